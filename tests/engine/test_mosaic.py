import numpy as np
import pytest

from engine.sampling.mosaic import grid_shape, mosaic


@pytest.mark.parametrize("n, cols, expected", [(1, None, (1, 1)), (5, None, (2, 3)), (9, None, (3, 3)),
                                               (10, None, (3, 4)), (3, 8, (1, 8)), (17, 8, (3, 8))])
def test_grid_shape(n, cols, expected):
    assert grid_shape(n, cols) == expected


def test_mosaic_places_image_i_at_row_i_div_cols():
    images = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 2, 3)
    out = mosaic(images, cols=2, gap=1, fill=-1)
    assert out.shape == (3 * 3 - 1, 2 * 4 - 1) and out.dtype == np.float32
    for i in range(5):
        r, c = divmod(i, 2)
        np.testing.assert_array_equal(out[r * 3 : r * 3 + 2, c * 4 : c * 4 + 3], images[i])
    assert (out[2, :] == -1).all() and (out[:, 3] == -1).all()
    assert (out[6:, 4:] == -1).all()  # the empty cell after the last image


def test_mosaic_colour_fill_and_no_gap():
    images = np.ones((3, 2, 2, 3), np.float32)
    grey = np.array([0.5, 0.5, 0.5], np.float32)
    out = mosaic(images, gap=1, fill=grey)
    assert out.shape == (2 * 3 - 1, 2 * 3 - 1, 3)
    np.testing.assert_array_equal(out[2, 2], grey)
    np.testing.assert_array_equal(out[3:, 3:], np.broadcast_to(grey, (2, 2, 3)))
    plain = mosaic(np.zeros((4, 28, 28), np.uint8) + 7)
    assert plain.shape == (56, 56) and plain.dtype == np.uint8 and (plain == 7).all()


def test_mosaic_serves_the_cli_grid():
    """engine.cli.sample.image_grid is this mosaic with a 2-pixel gap of grey 64, then upscaled."""
    image_grid = getattr(pytest.importorskip("engine.cli.sample"), "image_grid", None)
    if image_grid is None:
        pytest.skip("engine.cli.sample has no image_grid any more")

    images = np.random.default_rng(0).integers(0, 4, (7, 5, 6))
    grey = (images.astype(np.float32) * (255.0 / 3)).round().astype(np.uint8)
    ours = np.kron(mosaic(grey, gap=2, fill=64), np.ones((2, 2), np.uint8))
    np.testing.assert_array_equal(ours, image_grid(images, 4, scale=2, gap=2))
