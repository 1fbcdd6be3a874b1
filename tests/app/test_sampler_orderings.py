"""The Sampler's Images page with the bundled NADE and MADEs, pressed as a user does: the picker, the ordering
map and the ordering choice, completing any mask (beside the raster PixelCNN), one pass vs D passes."""

import threading

import numpy as np
import pytest

from app.tabs.sampler.completion import RASTER_NOTE, dots_mask, ring_mask
from engine.cards.bundled import find_bundled
from engine.data.folder import DataFolder
from engine.catalog import load_model
from engine.evaluation.lens import convert_image
from engine.models.orderings import known_first, make_ordering, step_map
from engine.sampling import autoregressive as ar
from tests.app import gui
from tests.app.gui import press, type_into
from tests.app.test_sampler_image import FASTEST, SHARED, choose, needs_data, open_page, set_speed, start, wait_done

NADE = "NADE (raster, bundled)"
MADE = "MADE (raster, 1 mask, bundled)"
AGNOSTIC = "MADE, order-agnostic (32 orderings, bundled)"


@pytest.fixture
def page(qtbot, make_window):
    return open_page(qtbot, make_window)[2]


def pick_model(qtbot, page, label, kind):
    before = page.model
    gui.choose(qtbot, page.panel.model, label)
    qtbot.waitUntil(lambda: page.model is not before and page.model.kind == kind, timeout=20000)


def test_the_bundled_nade_and_made_sit_beside_the_pixelcnns_and_keep_their_own_ordering(qtbot, page):
    items = [page.panel.model.itemText(i) for i in range(page.panel.model.count())]
    assert items[:2] == ["PixelCNN, binarized MNIST (bundled)", "PixelCNN, 16 grey levels, by digit (bundled)"]
    assert items[2:5] == [NADE, MADE, AGNOSTIC]
    omap = page.ordering.map
    raster = np.arange(784).reshape(28, 28)
    assert page.model.kind == "pixelcnn" and np.array_equal(omap.steps, raster)
    assert not omap.choice.isEnabled() and "raster order only" in omap.note.text()
    for label, kind in ((NADE, "nade"), (MADE, "made")):
        pick_model(qtbot, page, label, kind)
        assert kind.upper() in page.panel.model_info.text() and "raster ordering" in page.panel.model_info.text()
        assert np.array_equal(omap.steps, raster) and "raster" in omap.title.text()
        assert not omap.choice.isEnabled(), "a fixed-order model keeps its ordering"
        assert "only valid for order-agnostic models" in omap.note.text()
    choose(qtbot, page.panel, "sample")
    type_into(qtbot, page.panel.seed, "5")
    start(qtbot, page)
    wait_done(qtbot, page)
    want = ar.sample(page.model, 1, strategy="sample", seed=5)
    np.testing.assert_array_equal(page.board.finished.images[0].reshape(-1), want.values[0])


def test_an_order_agnostic_made_paints_in_the_chosen_ordering_and_the_map_follows(qtbot, page):
    pick_model(qtbot, page, AGNOSTIC, "made")
    omap = page.ordering.map
    assert omap.choice.isEnabled() and "any ordering" in omap.note.text()
    gui.choose(qtbot, omap.choice, "spiral")
    spiral = make_ordering("spiral", 28, 28)
    qtbot.waitUntil(lambda: "spiral" in omap.title.text(), timeout=10000)
    np.testing.assert_array_equal(omap.steps, step_map(spiral, 28, 28))
    assert "spiral ordering" in page.panel.model_info.text() and "test NLL" not in page.panel.model_info.text()
    choose(qtbot, page.panel, "sample")
    type_into(qtbot, page.panel.seed, "2")
    set_speed(qtbot, page, 1)  # 100 pixels/s: pause part-way
    start(qtbot, page)
    qtbot.waitUntil(lambda: page.board.ticks > 20, timeout=10000)
    press(qtbot, page.panel.buttons["Pause"])
    qtbot.wait(150)
    painted = np.flatnonzero(page.board.painted[0][0].reshape(-1))
    assert set(painted) == set(spiral[: len(painted)].tolist()), "painted from the centre out"
    r, c = page.board.pixel
    qtbot.waitUntil(lambda: len(omap.marker.xData) == 5, timeout=2000)
    assert (omap.marker.xData.min(), omap.marker.yData.min()) == (c, r), "the map marks the current pixel"
    assert f"now step {omap.steps[r, c]}" in omap.legend.text()
    set_speed(qtbot, page, FASTEST)
    press(qtbot, page.panel.buttons["Pause"])  # Resume
    wait_done(qtbot, page)
    want = ar.sample(page.model, 1, strategy="sample", seed=2)
    np.testing.assert_array_equal(page.board.finished.images[0].reshape(-1), want.values[0])
    assert len(omap.marker.xData) == 0, "no mark once finished"


def expected_completion(digit, mask, n, seed):
    """The engine's completion by a fresh order-agnostic MADE painting the known pixels first."""
    model = load_model(find_bundled("made_orderless").path)
    model.select(0, known_first(mask, make_ordering("raster", 28, 28)))
    return ar.sample(model, n, strategy="sample", seed=seed, known=digit.reshape(1, -1), mask=mask.reshape(1, -1))


def check_completion(page, digit, mask, n, seed):
    images = page.board.finished.images
    assert len(images) == 2 and page.board.titles == ["MADE, known pixels first", "PixelCNN, raster order"]
    for panel in images:
        assert panel.shape == (n, 28, 28)
        assert (panel[:, mask] == digit[mask]).all(), "known pixels are kept exactly"
    np.testing.assert_array_equal(images[0].reshape(n, -1), expected_completion(digit, mask, n, seed).values)
    assert RASTER_NOTE in page.grid.footers[1].text
    assert page.ordering.map.steps[mask].max() < mask.sum(), "the map shows the known pixels painted first"


def test_an_order_agnostic_made_completes_scattered_dots_of_a_drawing_beside_the_pixelcnn(qtbot, page):
    pick_model(qtbot, page, AGNOSTIC, "made")
    panel = page.panel
    gui.choose(qtbot, panel.digit_source, "Drawing")
    s = panel.pad.scale
    for x in (12, 13, 14):
        gui.drag(qtbot, panel.pad, [((x + 0.5) * s, (y + 0.5) * s) for y in range(4, 24)])
    gui.choose(qtbot, panel.keep, "Scattered dots")
    assert panel.beside.isEnabled() and panel.beside.isChecked()
    choose(qtbot, panel, "sample")
    type_into(qtbot, panel.seed, "4")
    type_into(qtbot, panel.times, "2")
    press(qtbot, panel.complete)
    wait_done(qtbot, page, timeout=90000)
    check_completion(page, convert_image(panel.pad.image, 2)[0], dots_mask(), 2, 4)
    assert "known pixels first" in page.ordering.map.title.text()


@needs_data
def test_a_ring_of_a_test_digit_is_completed_as_a_true_conditional(qtbot, make_window):
    page = open_page(qtbot, make_window, DataFolder(SHARED, "explicit"))[2]
    pick_model(qtbot, page, AGNOSTIC, "made")
    type_into(qtbot, page.panel.index, "3")
    gui.choose(qtbot, page.panel.keep, "Ring")
    choose(qtbot, page.panel, "sample")
    press(qtbot, page.panel.complete)
    wait_done(qtbot, page, timeout=90000)
    check_completion(page, page.digits.test.images[3], ring_mask(), 4, 0)


def test_one_pass_vs_d_passes_is_timed_on_the_worker(qtbot, page, monkeypatch):
    import app.tabs.sampler.passes as passes

    threads = []
    real = passes.time_passes

    def spy(*args):
        threads.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(passes, "time_passes", spy)
    pick_model(qtbot, page, NADE, "nade")
    press(qtbot, page.passes.button)
    qtbot.waitUntil(lambda: page.passes.result is not None, timeout=30000)
    result = page.passes.result
    assert threads and threads[0] is not threading.main_thread(), "timed on the worker, not the GUI thread"
    assert result.images == 16 and result.steps == 784 and 0 < result.score_s < result.sample_s
    assert "784 sequential steps" in page.passes.line.text() and "× longer" in page.passes.line.text()
    pick_model(qtbot, page, MADE, "made")
    assert page.passes.result is None and "time scoring a batch" in page.passes.line.text()
