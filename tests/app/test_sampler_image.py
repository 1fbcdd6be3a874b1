"""Sampler tab, image mode, driven with pytest-qt: paint, step, stop, strategies, compare, complete, lens, export."""

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel

from app.tabs.sampler.image_panel import MODES, SPEEDS
from app.widgets.image_view import save_png
from app.worker import JobState
from engine.data.folder import DataFolder, shared_data_dir
from engine.sampling.decoding import make_strategy
from engine.sampling.pixelcnn import completion_mask, sample
from tests.app import gui
from tests.app.gui import open_tab, press, type_into

SHARED = shared_data_dir()
needs_data = pytest.mark.skipif(SHARED is None or not (SHARED / "binarized_mnist").is_dir(),
                                reason="binarized MNIST not in ../shared/data")
FASTEST = len(SPEEDS) - 1


def open_page(qtbot, make_window, data=None):
    window = make_window(data=data)
    tab = open_tab(qtbot, window, "sampler")
    page = tab.images
    qtbot.waitUntil(lambda: page.model is not None, timeout=20000)
    set_speed(qtbot, page, FASTEST)
    return window, tab, page


def set_speed(qtbot, page, index):
    gui.choose(qtbot, page.panel.speed, page.panel.speed.itemText(index))


@pytest.fixture
def page(qtbot, make_window):
    return open_page(qtbot, make_window)[2]


@pytest.fixture
def data_page(qtbot, make_window):
    return open_page(qtbot, make_window, DataFolder(SHARED, "explicit"))[2]


def click(qtbot, page, name):
    press(qtbot, page.panel.buttons[name])


def start(qtbot, page):
    """Press Start; returns the job it started (None when it was refused)."""
    before = page.job
    click(qtbot, page, "Start")
    return page.job if page.job is not before else None


def wait_done(qtbot, page, timeout=30000):
    qtbot.waitUntil(lambda: page.job is not None and page.finished_job is page.job, timeout=timeout)  # events handled
    qtbot.waitUntil(lambda: not page.dirty, timeout=2000)  # the last redraw happened


def choose(qtbot, panel, strategy, **params):
    if panel.strategy_name.currentText() != strategy:
        gui.choose(qtbot, panel.strategy_name, strategy)
    for key, value in params.items():
        type_into(qtbot, panel.params[key], str(value))


# --------------------------------------------------------------------------- painting


def test_start_paints_pixels_live_and_ends_with_the_engines_image(qtbot, page):
    panel = page.panel
    set_speed(qtbot, page, 2)  # 400 pixels/s: slow enough to watch it half painted
    choose(qtbot, panel, "top-p", top_p=0.9)
    type_into(qtbot, panel.seed, "7")
    blank = None
    job = start(qtbot, page)
    assert job is not None
    qtbot.waitUntil(lambda: page.board.ticks > 0 and page.redraws > 0, timeout=10000)
    blank = page.grid.images[0].image.copy()
    qtbot.waitUntil(lambda: page.board.ticks > 40, timeout=10000)
    qtbot.wait(60)
    half = page.grid.images[0].image.copy()
    assert not np.array_equal(blank, half), "the canvas changes while painting"
    assert 0 < page.board.painted_count() < 784
    set_speed(qtbot, page, FASTEST)
    wait_done(qtbot, page)
    assert job.state is JobState.DONE and page.board.finished is not None
    expected = sample(page.model, 1, strategy=make_strategy("top-p", temperature=1.0, top_p=0.9), seed=7)
    np.testing.assert_array_equal(page.board.finished.images[0], expected.image)
    assert "nats" in page.grid.titles[0].text and "bits/dim" in page.grid.titles[0].text
    heat = page.board.nll[0]
    assert np.isfinite(heat).all() and heat.sum() == pytest.approx(-expected.log_prob[0], rel=1e-4)


def test_step_paints_exactly_one_pixel(qtbot, page):
    click(qtbot, page, "Step")
    qtbot.waitUntil(lambda: page.job is not None and page.job.state is JobState.PAUSED, timeout=10000)
    qtbot.wait(150)
    assert page.board.ticks == 1 and page.board.painted_count() == 1
    assert page.panel.buttons["Pause"].text() == "Resume"
    click(qtbot, page, "Step")
    qtbot.waitUntil(lambda: page.board.ticks == 2, timeout=5000)
    qtbot.wait(150)
    assert page.board.ticks == 2 and page.board.painted_count() == 2 and page.job.state is JobState.PAUSED
    qtbot.waitUntil(lambda: not page.dirty, timeout=2000)
    before, after = page.board.probs[0]
    assert before.shape == (2,) and after.sum() == pytest.approx(1.0, abs=1e-5)
    click(qtbot, page, "Stop")
    wait_done(qtbot, page)
    assert page.board.ticks == 2 and page.job.state is JobState.CANCELLED


def test_pause_holds_and_resume_finishes(qtbot, page):
    set_speed(qtbot, page, 1)  # 100 pixels/s
    start(qtbot, page)
    qtbot.waitUntil(lambda: page.board.ticks >= 3, timeout=10000)
    click(qtbot, page, "Pause")
    qtbot.waitUntil(lambda: page.job.state is JobState.PAUSED, timeout=5000)
    qtbot.wait(100)  # a pixel already on its way to the GUI thread when the job paused
    held = page.board.ticks
    qtbot.wait(250)
    assert page.board.ticks == held
    set_speed(qtbot, page, FASTEST)
    click(qtbot, page, "Pause")  # now reads Resume
    wait_done(qtbot, page)
    assert page.job.state is JobState.DONE and page.board.painted_count() == 784


def test_stop_stops_within_one_pixel(qtbot, page):
    set_speed(qtbot, page, 1)
    start(qtbot, page)
    qtbot.waitUntil(lambda: page.board.ticks >= 5, timeout=10000)
    job = page.job
    steps_at_stop = job.steps
    click(qtbot, page, "Stop")
    wait_done(qtbot, page)
    assert job.state is JobState.CANCELLED and job.steps <= steps_at_stop + 1
    ticks = page.board.ticks
    qtbot.wait(300)
    assert page.board.ticks == ticks < 784 and "Stopped after" in page.note.text()


def test_closing_the_window_stops_painting(qtbot, make_window):
    window, _, page = open_page(qtbot, make_window)
    set_speed(qtbot, page, 1)
    job = start(qtbot, page)
    qtbot.waitUntil(lambda: job.steps >= 3, timeout=10000)
    steps = job.steps
    window.close()
    assert job.cancelled and job.steps <= steps + 2 and not window.context.worker.alive


def test_invalid_strategy_parameter_is_refused_with_the_reason(qtbot, page):
    choose(qtbot, page.panel, "top-p", top_p="1.5")
    assert "top-p must be in (0, 1]" in page.panel.strategy_error.text()
    assert start(qtbot, page) is None and page.job is None
    assert page.context.worker.current is None
    assert "Not started: top-p must be in (0, 1]" in page.note.text()
    choose(qtbot, page.panel, "temperature", temperature="warm")
    assert "Temperature must be a number" in page.panel.strategy_error.text()
    choose(qtbot, page.panel, "top-k", temperature="1.0", top_k="0")
    click(qtbot, page, "Step")
    assert page.job is None and "top-k must keep at least 1" in page.note.text()


def test_batch_grid_paints_n_images(qtbot, page):
    gui.choose(qtbot, page.panel.mode, "Batch grid")
    type_into(qtbot, page.panel.n_images, "4")
    start(qtbot, page)
    wait_done(qtbot, page)
    assert page.board.finished.images[0].shape == (4, 28, 28)
    assert page.grid.images[0].image.shape == (57, 57, 3), "a 2 x 2 grid with a 1-pixel gap"


def test_compare_mode_paints_the_same_seed_under_each_strategy(qtbot, page):
    panel = page.panel
    gui.choose(qtbot, panel.mode, MODES[2])
    press(qtbot, panel.clear_compare)
    choose(qtbot, panel, "sample")
    press(qtbot, panel.add_compare)
    start(qtbot, page)
    assert page.job is None and "2 to 4" in page.note.text()
    choose(qtbot, panel, "temperature", temperature="0.5")
    press(qtbot, panel.add_compare)
    choose(qtbot, panel, "min-p", temperature="1.0", min_p="0.3")
    press(qtbot, panel.add_compare)
    type_into(qtbot, panel.seed, "11")
    type_into(qtbot, panel.n_images, "2")  # images per strategy
    start(qtbot, page)
    wait_done(qtbot, page)
    assert len(page.grid.images) == 3 and [panel.compare_list.item(i).text() for i in range(3)] == \
        ["sample", "T 0.5", "min-p 0.3"]
    images = page.board.finished.images
    for p, strategy in enumerate(panel.compare_strategies):
        np.testing.assert_array_equal(images[p], sample(page.model, 2, strategy=strategy, seed=11).image)
    assert not np.array_equal(images[0], images[1])


def test_completion_of_a_drawing_keeps_the_marked_pixels(qtbot, page):
    panel = page.panel
    gui.choose(qtbot, panel.digit_source, "Drawing")
    s = panel.pad.scale
    for x in (12, 13, 14):  # a stroke: the pixels to keep
        gui.drag(qtbot, panel.pad, [((x + 0.5) * s, (y + 0.5) * s) for y in range(4, 24)])
    assert panel.pad.image[4:24, 12:15].min() == 1.0
    gui.choose(qtbot, panel.keep, "Pixels marked on the pad")
    type_into(qtbot, panel.times, "3")
    press(qtbot, panel.complete)
    wait_done(qtbot, page)
    images = page.board.finished.images[0]
    assert images.shape == (3, 28, 28)
    assert (images[:, 4:24, 12:15] == 1).all(), "kept pixels are never changed"
    assert page.board.total == 784 - int((panel.pad.image >= 0.5).sum())


@needs_data
def test_completion_of_a_test_digit_keeps_its_top_half(qtbot, data_page):
    page = data_page
    type_into(qtbot, page.panel.index, "3")
    gui.choose(qtbot, page.panel.keep, "Top half")
    type_into(qtbot, page.panel.times, "2")
    press(qtbot, page.panel.complete)
    wait_done(qtbot, page)
    digit = page.digits.test.images[3]
    top = completion_mask("top")
    for image in page.board.finished.images[0]:
        np.testing.assert_array_equal(image[top], digit[top])


@needs_data
def test_lens_scores_a_test_digit_far_above_noise(qtbot, data_page):
    page = data_page
    page.lens.subset = 100
    type_into(qtbot, page.panel.index, "0")
    gui.choose(qtbot, page.panel.lens_source, "The digit above")
    press(qtbot, page.panel.measure)
    qtbot.waitUntil(lambda: page.lens.last is not None, timeout=20000)
    digit = page.lens.last[1]
    assert np.isfinite(digit.log_prob) and -250 < digit.log_prob < 0
    np.testing.assert_array_equal(digit.image, page.digits.test.images[0])
    gui.choose(qtbot, page.panel.lens_source, "Noise")
    press(qtbot, page.panel.measure)
    qtbot.waitUntil(lambda: page.lens.last[0].startswith("noise"), timeout=20000)
    noise = page.lens.last[1]
    assert noise.log_prob < digit.log_prob - 300
    qtbot.waitUntil(lambda: page.hist.nlls is not None, timeout=30000)
    assert len(page.hist.nlls) == 100 and len(page.hist.lines) == 2
    assert "test digits" in page.panel.lens_result.text()
    gui.choose(qtbot, page.panel.lens_source, "Inverted digit")
    press(qtbot, page.panel.measure)
    qtbot.waitUntil(lambda: page.lens.last[0].startswith("inverted"), timeout=20000)
    assert page.lens.last[1].log_prob < digit.log_prob - 100


def test_lens_converts_a_wrong_size_picture_and_refuses_a_tiny_one(qtbot, page, tmp_path, monkeypatch):
    def measure(name):  # Measure with "Image file…": the file dialog answers ``name``
        monkeypatch.setattr("app.tabs.sampler.lens.QFileDialog.getOpenFileName",
                            lambda *a, **k: (str(tmp_path / name), ""))
        press(qtbot, page.panel.measure)

    picture = np.ones((90, 60), np.float32)  # dark ink on white paper, 60 x 90
    picture[15:75, 26:34] = 0.0
    save_png(picture, tmp_path / "one.png", scale=1)
    gui.choose(qtbot, page.panel.lens_source, "Image file…")
    measure("one.png")
    qtbot.waitUntil(lambda: page.lens.last is not None, timeout=20000)
    name, report = page.lens.last
    assert name == "one.png" and report.image.shape == (28, 28) and np.isfinite(report.log_prob)
    assert "resized from 60×90" in page.note.text() and "inverted" in page.note.text()
    assert page.board.finished.images[0].shape == (1, 28, 28)
    save_png(np.zeros((4, 4)), tmp_path / "tiny.png", scale=1)
    measure("tiny.png")
    qtbot.waitUntil(lambda: "too small" in page.note.text(), timeout=20000)
    (tmp_path / "text.png").write_text("not an image")
    measure("text.png")
    assert "Could not read text.png" in page.note.text()


def test_export_writes_a_png(qtbot, page, tmp_path, monkeypatch):
    out = tmp_path / "grid.png"
    monkeypatch.setattr("app.tabs.sampler.image.QFileDialog.getSaveFileName", lambda *a, **k: (str(out), ""))
    if page.panel.export.isEnabled():
        press(qtbot, page.panel.export)  # nothing painted yet: no file, or a note saying why
    assert not out.exists() or page.board is not None
    start(qtbot, page)
    wait_done(qtbot, page)
    press(qtbot, page.panel.export)
    image = QImage(str(out))
    assert not image.isNull() and (image.width(), image.height()) == (112, 112)


def test_modes_and_checkpoints_route_to_the_image_page(qtbot, make_window):
    window, tab, page = open_page(qtbot, make_window)
    modes = [b.text() for b in tab.mode_buttons.buttons()]
    assert modes[0] == "Images" and tab.stack.currentWidget() is page, "the image mode comes first"
    tab.add_mode("Extra", QLabel("another page"))
    assert [b.text() for b in tab.mode_buttons.buttons()] == [*modes, "Extra"]
    qtbot.waitUntil(tab.mode_buttons.buttons()[-1].isVisible, timeout=2000)
    press(qtbot, tab.mode_buttons.buttons()[-1])
    assert tab.stack.currentIndex() == len(modes)
    assert tab.accepts_checkpoint({"kind": "pixelcnn"}) and not tab.accepts_checkpoint({"kind": "vae"})
    offered = page.panel.model.count()
    tab.open_checkpoint(page.entries[0][1], {"kind": "pixelcnn"})
    assert tab.stack.currentWidget() is page and page.panel.model.count() == offered + 1
    qtbot.waitUntil(lambda: page.model_path == page.entries[-1][1], timeout=20000)


def test_an_opened_conditional_grey_model_paints_the_chosen_digit_and_beams(qtbot, page, tmp_path):
    import torch

    from engine.checkpoints import save_checkpoint
    from engine.models.pixelcnn import PixelCNN

    torch.manual_seed(0)
    model = PixelCNN(levels=16, channels=4, layers=2, kernel=3, first_kernel=3, num_classes=10)
    path = save_checkpoint(tmp_path / "grey.safetensors", model.state_dict(), {"kind": "pixelcnn",
                                                                             "hparams": model.hparams()})
    page.open_checkpoint(path, {"kind": "pixelcnn"})
    qtbot.waitUntil(lambda: page.model_path == path, timeout=20000)
    assert page.panel.label.isEnabled() and "16 grey levels" in page.panel.model_info.text()
    type_into(qtbot, page.panel.label, "3")
    choose(qtbot, page.panel, "top-k", temperature="1.0", top_k="3")
    start(qtbot, page)
    wait_done(qtbot, page)
    expected = sample(page.model, 1, strategy=make_strategy("top-k", temperature=1.0, top_k=3), seed=0, labels=[3])
    np.testing.assert_array_equal(page.board.finished.images[0], expected.image)
    assert page.board.probs[0][0].shape == (16,)
    choose(qtbot, page.panel, "beam", beam_width="2")
    start(qtbot, page)
    qtbot.waitUntil(lambda: page.board.ticks > 0, timeout=20000)
    # the bars follow at the next coalesced redraw (every 20 ms), not with the event itself
    qtbot.waitUntil(lambda: "no per-pixel draw" in page.bars.plot_item.titleLabel.text, timeout=5000)
    wait_done(qtbot, page, timeout=60000)
    assert page.board.titles == ["beam 2"] and page.board.finished.images[0].shape == (2, 28, 28)
    lp = page.board.finished.log_probs[0]
    assert lp[0] >= lp[1] and np.isfinite(lp).all()
