"""Likelihood lens and the Sampler's lockstep runs: exact per-pixel NLLs, picture conversion, compare/complete."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data.folder import shared_data_dir
from engine.sampling.decoding import make_strategy
from engine.errors import ConfigError, DataError
from engine.events import Done, Progress
from engine.models.pixelcnn import PixelCNN
from engine.evaluation.lens import (convert_image, load_test_digits, measure, pixel_nll, share_below, subset, dataset_nlls,
                               variant)
from engine.sampling.compare import PaintFinished, PaintTick, paint_steps
from engine.sampling.pixelcnn import BeamStep, PixelStep, completion_mask, sample

SHARED = shared_data_dir()


def tiny(levels: int = 2, h: int = 28, w: int = 28, **kw) -> PixelCNN:
    torch.manual_seed(0)
    return PixelCNN(levels=levels, channels=4, layers=2, kernel=3, first_kernel=3, height=h, width=w, **kw).eval()


def digit_picture() -> np.ndarray:
    """A 28x28 uint8 'one': a light vertical bar on black."""
    img = np.zeros((28, 28), np.uint8)
    img[5:23, 12:16] = 255
    return img


# --------------------------------------------------------------------------- likelihoods


def test_pixel_nll_sums_to_the_exact_log_prob():
    model = tiny(levels=4, num_classes=3)
    images = np.random.default_rng(0).integers(0, 4, (3, 28, 28))
    labels = torch.tensor([0, 1, 2])
    nll = pixel_nll(model, images, labels)
    assert nll.shape == (3, 28, 28) and (nll >= 0).all()
    with torch.no_grad():
        expected = -model.log_prob(torch.as_tensor(images), labels).numpy()
    np.testing.assert_allclose(nll.astype(np.float64).sum((1, 2)), expected, rtol=1e-5)


def test_measure_reports_log_prob_and_bits_per_dim():
    model = tiny()
    report = measure(model, digit_picture() // 255)
    assert np.isfinite(report.log_prob) and report.log_prob < 0
    assert report.bits_per_dim == pytest.approx(-report.log_prob / (784 * np.log(2)))
    assert report.pixel_nll.shape == (28, 28)


def test_dataset_nlls_are_progress_then_done_with_every_nll():
    model = tiny()
    images = np.random.default_rng(1).integers(0, 2, (7, 28, 28))
    events = list(dataset_nlls(model, images, batch=3))
    assert [type(e) for e in events] == [Progress, Progress, Progress, Done]
    with torch.no_grad():
        expected = -model.log_prob(torch.as_tensor(images)).numpy()
    np.testing.assert_allclose(events[-1].result, expected, rtol=1e-5)


def test_subset_and_share_below():
    idx = subset(10000, 2000)
    assert len(idx) == 2000 and idx[0] == 0 and idx[-1] == 9999 and np.all(np.diff(idx) > 0)
    assert len(subset(50, 2000)) == 50
    assert share_below(5.0, np.array([1.0, 2.0, 10.0, 20.0])) == 0.5


# --------------------------------------------------------------------------- pictures


def test_a_28x28_grey_digit_is_only_thresholded():
    out, note = convert_image(digit_picture(), levels=2)
    assert out.dtype == np.uint8 and out.shape == (28, 28)
    np.testing.assert_array_equal(out, digit_picture() // 255)
    assert note == ""


def test_colour_picture_of_the_wrong_size_is_converted_with_a_note():
    page = np.full((90, 60, 3), 250, np.uint8)  # dark ink on white paper, not square
    page[10:80, 25:35] = (20, 20, 120)
    out, note = convert_image(page, levels=2)
    assert out.shape == (28, 28) and set(np.unique(out)) <= {0, 1}
    assert "colour" in note and "inverted" in note and "60×90" in note
    ys, xs = np.nonzero(out)
    assert 16 <= ys.max() - ys.min() + 1 <= 21, "the digit is framed in MNIST's 20-pixel box"
    assert abs(xs.mean() - 13.5) < 2 and abs(ys.mean() - 13.5) < 2, "centred by its mass"
    assert out[0].sum() == 0 and out[:, 0].sum() == 0, "the paper became black background"


def test_an_upscaled_export_scales_back_exactly():
    small = (np.random.default_rng(2).random((28, 28)) > 0.7).astype(np.uint8)
    big = np.kron(small * 255, np.ones((4, 4), np.uint8))
    out, note = convert_image(big, levels=2)
    np.testing.assert_array_equal(out, small)
    assert "scaled down from 112×112" in note


def test_grey_levels_are_quantized():
    ramp = np.tile(np.linspace(0, 1, 28, dtype=np.float32), (28, 1))
    out, _ = convert_image(ramp, levels=16)
    assert out.min() == 0 and out.max() == 15 and np.all(np.diff(out[0].astype(int)) >= 0)


@pytest.mark.parametrize("bad, reason", [
    (np.zeros((4, 4), np.uint8), "too small"),
    (np.zeros((28, 28, 5), np.uint8), "shape"),
    (np.array([["a"] * 28] * 28), "grey or colour"),
    (np.full((28, 28), np.nan, np.float32), "missing"),
])
def test_unusable_pictures_are_refused_with_a_reason(bad, reason):
    with pytest.raises(DataError, match=reason):
        convert_image(bad, levels=2)


def test_variants():
    img = digit_picture() // 255
    np.testing.assert_array_equal(variant(img, "inverted", 2), 1 - img)
    np.testing.assert_array_equal(variant(img, "rotated", 2), np.rot90(img))
    noise = variant(img, "noise", 2, seed=3)
    np.testing.assert_array_equal(noise, variant(img, "noise", 2, seed=3))
    assert 0.3 < noise.mean() < 0.7
    with pytest.raises(DataError, match="Unknown image variant"):
        variant(img, "blurred", 2)


@pytest.mark.skipif(SHARED is None or not (SHARED / "binarized_mnist").is_dir(), reason="no binarized MNIST")
def test_load_test_digits_binary():
    digits = load_test_digits(SHARED, 2)
    assert digits.images.shape == (10000, 28, 28) and digits.labels is None and digits.images.max() == 1


# --------------------------------------------------------------------------- lockstep runs


def test_compare_panels_equal_separate_runs_with_the_same_seed():
    model = tiny(h=8, w=7)
    strategies = [make_strategy("sample"), make_strategy("top-p", top_p=0.6), make_strategy("greedy")]
    events = list(paint_steps(model, strategies, 2, seed=5))
    ticks, final = events[:-1], events[-1]
    assert len(ticks) == 56 and all(isinstance(t, PaintTick) and len(t.events) == 3 for t in ticks)
    assert isinstance(final, PaintFinished)
    for p, strategy in enumerate(strategies):
        alone = sample(model, 2, strategy=strategy, seed=5)
        np.testing.assert_array_equal(final.images[p], alone.image)
        np.testing.assert_allclose(final.log_probs[p], alone.log_prob)
        np.testing.assert_allclose(final.pixel_nll[p].astype(np.float64).sum((1, 2)), -alone.log_prob, rtol=1e-5)
    first = ticks[0].events[1]
    assert isinstance(first, PixelStep) and (first.row, first.col) == (0, 0)


def test_beam_panel_beside_a_sampling_panel():
    model = tiny(h=3, w=3)
    events = list(paint_steps(model, [make_strategy("beam", beam_width=3), make_strategy("sample")], 1, seed=0))
    assert len(events) == 10 and isinstance(events[0].events[0], BeamStep)
    assert events[-1].images[0].shape == (3, 3, 3) and events[-1].images[1].shape == (1, 3, 3)


def test_completion_keeps_the_known_pixels_and_skips_them():
    model = tiny()
    known = (np.random.default_rng(4).random((28, 28)) > 0.5).astype(np.uint8)
    mask = completion_mask("top")
    events = list(paint_steps(model, [make_strategy("sample")], 3, seed=1, known=known, mask=mask))
    assert len(events) == 28 * 14 + 1
    for image in events[-1].images[0]:
        np.testing.assert_array_equal(image[mask], known[mask])


@pytest.mark.parametrize("kwargs, reason", [
    (dict(strategies=[make_strategy("sample")] * 5), "2 to 4"),
    (dict(n=0), "between 1 and"),
    (dict(strategies=[make_strategy("beam", beam_width=2)], known=np.zeros((28, 28)), mask=completion_mask("top")),
     "Beam search"),
    (dict(label=3), "not class-conditional"),
])
def test_runs_the_samplers_cannot_do_are_refused(kwargs, reason):
    args = dict(strategies=[make_strategy("sample")], n=1) | kwargs
    model = tiny()
    with pytest.raises(ConfigError, match=reason):
        next(paint_steps(model, args.pop("strategies"), args.pop("n"), **args))
