"""Sampler polish (issue #12), pressed as a user does: blank pages explained on screen, defaults that paint,
the NLL colour scale, a model change clears the canvas, the lens histogram's status line."""

import re

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.tabs.sampler.board import BLANK_INK, InkCut
from engine.data.folder import DataFolder, shared_data_dir
from tests.app.test_sampler_image import open_page

SHARED = shared_data_dir()
needs_data = pytest.mark.skipif(SHARED is None or not (SHARED / "binarized_mnist").is_dir(),
                                reason="binarized MNIST not in ../shared/data")


def open_images(qtbot, make_window, data=None):
    window, _, page = open_page(qtbot, make_window, data)
    pick(qtbot, page.panel.speed, "As fast as possible")
    return window, page


def pick(qtbot, combo, text):
    """Choose ``text`` in a combo box with the keyboard, as a user does (type-ahead, emits activated)."""
    combo.setFocus()
    qtbot.keyClicks(combo, text)
    assert combo.currentText() == text


def paint(qtbot, page):
    qtbot.mouseClick(page.panel.buttons["Start"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.job is not None and page.finished_job is page.job, timeout=60000)
    qtbot.waitUntil(lambda: not page.dirty, timeout=2000)


@pytest.fixture
def page(qtbot, make_window):
    return open_images(qtbot, make_window)[1]


def test_greedy_blank_page_says_why_in_the_runs_numbers(qtbot, page):
    pick(qtbot, page.panel.strategy_name, "greedy")
    paint(qtbot, page)
    assert page.board.ink_share(0) < BLANK_INK
    note = page.note.text()
    assert "greedy: a blank page" in note and "cut away every 'ink' choice" in note
    cut = float(re.search(r"p\(ink\) was at most ([0-9.]+)", note).group(1))
    assert 0 < cut < 0.5, "greedy cuts ink only where p(ink) < 1/2; the number comes from the run"
    assert cut == pytest.approx(page.board.ink_cut[0].max_cut, abs=0.005)


def test_top_p_09_blank_page_is_explained_and_the_default_top_p_paints(qtbot, page):
    pick(qtbot, page.panel.strategy_name, "top-p")
    default = page.panel.params["top_p"].text()
    page.panel.params["top_p"].selectAll()
    qtbot.keyClicks(page.panel.params["top_p"], "0.9")
    paint(qtbot, page)
    assert page.board.ink_share(0) < BLANK_INK and "cut away every 'ink' choice" in page.note.text()
    page.panel.params["top_p"].selectAll()
    qtbot.keyClicks(page.panel.params["top_p"], default)
    paint(qtbot, page)
    assert page.board.ink_share(0) > 0.05 and "blank" not in page.note.text()


@pytest.mark.parametrize("model", ["PixelCNN, binarized MNIST", "PixelCNN, 16 grey levels, by digit"])
def test_every_default_strategy_setting_paints_a_digit(qtbot, page, model):
    """Defaults as the form shows them (nothing typed): each paints ink worth seeing on both bundled models."""
    if not page.panel.model.currentText().startswith(model):
        pick(qtbot, page.panel.model, page.panel.model.itemText(1))
        qtbot.waitUntil(lambda: page.model.levels == 16, timeout=20000)
    pick(qtbot, page.panel.mode, "Batch grid")
    page.panel.n_images.selectAll()
    qtbot.keyClicks(page.panel.n_images, "4")
    for strategy in ("sample", "top-k", "top-p", "min-p"):
        pick(qtbot, page.panel.strategy_name, strategy)
        paint(qtbot, page)
        assert page.board.ink_share(0) > 0.05, f"{strategy} with its default settings paints a blank page"


def test_beam_blank_page_is_explained(qtbot, page):
    pick(qtbot, page.panel.strategy_name, "beam")
    page.panel.params["beam_width"].selectAll()
    qtbot.keyClicks(page.panel.params["beam_width"], "2")
    paint(qtbot, page)
    assert "Beam search keeps the most probable whole images" in page.note.text()


def test_ink_cut_counts_only_draws_that_lose_every_ink_value():
    cut = InkCut()
    before = np.array([[0.95, 0.05], [0.4, 0.6]], np.float32)
    cut.add(before, np.array([[1.0, 0.0], [0.4, 0.6]], np.float32))
    assert (cut.draws, cut.cut, cut.max_cut) == (2, 1, pytest.approx(0.05))
    greedy = InkCut(greedy=True)
    greedy.add(before, before)  # greedy draws from the model's distribution but takes its argmax
    assert (greedy.cut, greedy.max_cut) == (1, pytest.approx(0.05))


def test_heatmap_has_a_colour_scale(qtbot, page):
    paint(qtbot, page)
    bar = page.grid.colour_bar
    assert bar is not None and bar.scene() is page.grid.scene() and bar.isVisible()
    assert tuple(bar.values) == (0.0, 4.0)
    ticks = [text for _, text in bar.axis._tickLevels[0]]
    assert ticks[0] == "0" and ticks[-1] == "≥4"
    assert "log p" in bar.getAxis("left").labelText and not bar.horizontal
    pick(qtbot, page.panel.mode, "Compare strategies")
    page.panel.n_images.selectAll()
    qtbot.keyClicks(page.panel.n_images, "1")
    paint(qtbot, page)
    bar = page.grid.colour_bar
    assert len(page.grid.heats) == 4 and bar.horizontal and bar.scene() is page.grid.scene()
    assert "log p" in bar.getAxis("bottom").labelText
    assert "greedy: a blank page" in page.note.text() and "sample:" not in page.note.text()


def test_changing_model_clears_the_previous_models_picture(qtbot, page):
    pick(qtbot, page.panel.lens_source, "Noise")
    qtbot.mouseClick(page.panel.measure, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.lens.last is not None, timeout=20000)
    assert page.board is not None and page.board.titles[0].startswith("noise")
    assert "log p(x)" in page.panel.lens_result.text()
    first = page.model_path
    pick(qtbot, page.panel.model, page.panel.model.itemText(1))
    qtbot.waitUntil(lambda: page.model_path != first, timeout=20000)
    assert page.board is None and page.grid.images[0].image is None
    assert "log p(x)" not in page.panel.lens_result.text() and page.stats.text() == ""


@needs_data
def test_lens_histogram_status_line_counts_digits_once(qtbot, make_window):
    window, page = open_images(qtbot, make_window, DataFolder(SHARED, "explicit"))
    page.lens.subset = 100
    seen = []
    for worker in window.context.all_workers():
        worker.job_progress.connect(lambda job, _p: seen.append(window.job_label.text()))
    qtbot.mouseClick(page.panel.measure, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.hist.nlls is not None, timeout=60000)
    lens = [text for text in seen if text.startswith("Lens histogram")]
    assert lens and all(text.count("NLLs") <= 1 for text in seen)
    assert re.fullmatch(r"Lens histogram: \d+ of 100 test digits", lens[-1])
