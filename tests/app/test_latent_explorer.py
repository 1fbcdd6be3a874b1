"""Latent explorer driven as a user does (tests/app/gui.py): hover, pins, strip, grid, inspect."""

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt

from engine.sampling import latent as lm
from engine.checkpoints import save_checkpoint
from engine.models.vae import VAE
from tests.app.gui import choose, click_plot, drag, move_plot, press, right_click, type_into, view_point, wheel

CTRL = Qt.KeyboardModifier.ControlModifier
PIXEL = 0.05  # data units: a click lands within a pixel or two of the point asked for


@pytest.fixture
def tab(qtbot, make_window, tmp_path):
    window = make_window()
    tab = window.tab_by_key["latent"]
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=(32,))
    path = save_checkpoint(tmp_path / "tiny.safetensors", model.state_dict(), {"kind": "vae", "hparams": model.hparams()})
    assert window.open_checkpoint(path)
    qtbot.waitUntil(lambda: tab.current is not None and tab.current.name == "tiny", timeout=10000)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    tab.map.view.setRange(xRange=(-3, 3), yRange=(-3, 3), padding=0)
    qtbot.wait(20)
    return tab


def test_hover_decodes_latest_position(qtbot, tab):
    for x in np.linspace(-2, 2, 30):
        move_plot(qtbot, tab.map, float(x), 0.5)
    def cursor():
        return float(tab.map.cursor.data["x"][0]), float(tab.map.cursor.data["y"][0])

    qtbot.waitUntil(lambda: cursor() == pytest.approx((2.0, 0.5), abs=PIXEL), timeout=2000)
    x, y = cursor()
    expected = lm.decode_point(tab.current.model, (x, y))
    qtbot.waitUntil(lambda: tab.panel.decoded.image is not None
                    and np.allclose(tab.panel.decoded.image, expected, atol=1e-6), timeout=5000)
    assert f"{x:+.2f}" in tab.panel.cursor_label.text()


def test_the_point_where_a_fast_mouse_stops_is_decoded(qtbot, tab):
    from PySide6.QtTest import QTest

    for x in np.linspace(-2, 1, 12):  # faster than pyqtgraph's 60 moves per second
        QTest.mouseMove(tab.map.viewport(), view_point(tab.map, float(x), -0.5))
    def cursor():
        return float(tab.map.cursor.data["x"][0]), float(tab.map.cursor.data["y"][0])

    qtbot.waitUntil(lambda: cursor() == pytest.approx((1.0, -0.5), abs=PIXEL), timeout=2000)


def test_a_click_pins_once_and_pins_feed_the_interpolation_strip(qtbot, tab, tmp_path, monkeypatch):
    clicks = []
    tab.map.clicked.connect(lambda *a: clicks.append(a))
    click_plot(qtbot, tab.map, -1.0, 0.0)
    assert len(clicks) == 1 and len(tab.map.pins) == 1, "a real click on the map pins exactly one point"
    assert tuple(tab.map.pin_positions()[0]) == pytest.approx((-1.0, 0.0), abs=PIXEL)
    click_plot(qtbot, tab.map, 1.0, 1.0)
    assert len(tab.map.pins) == 2
    qtbot.waitUntil(lambda: tab.strip_image is not None, timeout=5000)
    assert tab.strip_image.shape == (28, 28 * tab.panel.interp_steps.value())
    qtbot.waitUntil(lambda: all(tab.panel.thumbs[i].image is not None for i in range(2)), timeout=5000)
    assert tab.panel.thumbs[1].isVisible() and not tab.panel.thumbs[2].isVisible()
    choose(qtbot, tab.panel.interp_mode, "spherical")
    type_into(qtbot, tab.panel.interp_steps, "5")
    qtbot.waitUntil(lambda: tab.strip_image.shape == (28, 140), timeout=5000)
    a, b = tab.map.pin_positions()
    expected = lm.decode_path(tab.current.model, lm.interpolate(a, b, 5, "spherical"))
    qtbot.waitUntil(lambda: np.allclose(tab.strip_image, expected, atol=1e-6), timeout=5000)
    out = tmp_path / "strip.png"
    monkeypatch.setattr("app.tabs.latent.explorer.QFileDialog.getSaveFileName", lambda *a, **k: (str(out), ""))
    press(qtbot, tab.panel.export_strip)
    assert out.exists() and out.stat().st_size > 100


def test_dragging_a_pin_redecodes_it(qtbot, tab):
    click_plot(qtbot, tab.map, 0.0, 0.0)
    start, end = view_point(tab.map, 0.0, 0.0), view_point(tab.map, 1.5, -1.0)
    steps = [start + (end - start) * (i / 10) for i in range(11)]
    drag(qtbot, tab.map.viewport(), [QPoint(int(p.x()), int(p.y())) for p in steps])
    x, y = tab.map.pin_positions()[0]
    assert (x, y) == pytest.approx((1.5, -1.0), abs=PIXEL)
    assert len(tab.map.pins) == 1, "a drag moves the pin, it does not add one"
    expected = lm.decode_point(tab.current.model, (x, y))
    qtbot.waitUntil(lambda: tab.panel.thumbs[0].image is not None
                    and np.allclose(tab.panel.thumbs[0].image, expected, atol=1e-6), timeout=5000)


def test_at_most_eight_pins(qtbot, tab):
    for i in range(10):
        click_plot(qtbot, tab.map, -2.0 + i * 0.4, 0.5 * (i % 2))
    assert len(tab.map.pins) == 8 and "Eight pins" in tab.panel.note.text()
    press(qtbot, tab.panel.clear_pins)
    assert tab.map.pins == []


def test_manifold_grid_follows_the_view(qtbot, tab):
    type_into(qtbot, tab.panel.grid_size, "6")
    press(qtbot, tab.panel.show_grid)
    qtbot.waitUntil(lambda: tab.map.grid_image.isVisible() and tab.map.grid_image.image is not None, timeout=5000)
    assert tab.map.grid_image.image.shape == (168, 168)
    before = tab.map.view.viewRect().width()
    wheel(tab.map.viewport(), view_point(tab.map, 0.0, 0.0), 3)  # the wheel zooms the map in
    assert tab.map.view.viewRect().width() < before
    qtbot.waitUntil(lambda: abs(tab.map.grid_image.mapRectToParent(tab.map.grid_image.boundingRect()).width()
                                - tab.map.view.viewRect().width()) < 1e-3, timeout=5000)


def test_overlays_toggle(qtbot, tab):
    press(qtbot, tab.panel.show_prior)
    assert tab.map.prior_rings.isVisible()
    press(qtbot, tab.panel.show_points)
    assert not tab.map.cloud.isVisible()


def test_empty_drawing_gives_a_hint(qtbot, tab):
    pad = tab.panel.pad
    pad.clear()
    right_click(qtbot, pad)
    assert "empty" not in tab.panel.note.text()
    drag(qtbot, pad, [(-20, -20), (-10, -10)])  # pressed and released outside the pad: nothing drawn
    assert "empty" in tab.panel.note.text()


def test_inspect_drawn_digit_reports_elbo_and_likelihood(qtbot, tab):
    type_into(qtbot, tab.panel.k, "50")
    pad = tab.panel.pad
    s = pad.scale
    drag(qtbot, pad, [(14 * s, y * s) for y in range(5, 23)])  # a vertical stroke: a "1"
    assert pad.image.sum() > 10
    qtbot.waitUntil(lambda: "gap" in tab.panel.report.text(), timeout=10000)
    text = tab.panel.report.text()
    assert "ELBO" in text and "k = 50" in text
    assert tab.map.inspected.xData is not None and len(tab.map.inspected.xData) > 10


def test_ctrl_click_inspects_the_nearest_test_digit(qtbot, tab):
    digits = np.zeros((2, 28, 28), np.uint8)
    digits[0, 5:23, 12:16] = 255  # a "1" at (-1, -1)
    digits[1, 8:20, 6:22] = 255  # a block at (1, 1)
    object.__setattr__(tab.current, "codes", np.array([[-1.0, -1.0], [1.0, 1.0]], np.float32))
    object.__setattr__(tab.current, "images", digits)
    click_plot(qtbot, tab.map, 0.9, 1.2, modifier=CTRL)
    qtbot.waitUntil(lambda: tab.panel.input_view.image is not None, timeout=10000)
    assert tab.panel.input_view.image.sum() == pytest.approx(12 * 16, abs=1)
    assert "ELBO" in tab.panel.report.text()
    assert tab.map.pins == [], "Ctrl+click inspects; it does not pin"


def test_sample_prior_drops_points(qtbot, tab):
    type_into(qtbot, tab.panel.n_samples, "9")
    press(qtbot, tab.panel.sample_button)
    qtbot.waitUntil(lambda: tab.panel.samples_view.image is not None, timeout=5000)
    assert len(tab.map.samples.data) == 9 and tab.panel.samples_view.image.shape == (84, 84)


def test_bad_checkpoint_keeps_current_model(qtbot, tab, tmp_path):
    big = VAE(latent_dim=32, hidden=(16,))
    path = save_checkpoint(tmp_path / "big.safetensors", big.state_dict(), {"kind": "vae", "hparams": big.hparams()})
    tab.open_checkpoint(path, {"kind": "vae"})
    qtbot.waitUntil(lambda: "32-d latent" in tab.panel.note.text(), timeout=5000)
    assert tab.current.name == "tiny" and tab.panel.model.currentText() == "tiny (opened)"


def test_bundled_model_works_without_a_data_folder(qtbot, make_window):
    window = make_window()  # its data folder does not exist
    window.show()
    qtbot.waitExposed(window)
    tab = window.tab_by_key["latent"]
    qtbot.waitUntil(lambda: tab.current is not None, timeout=10000)
    assert tab.current.name == "vae" and tab.current.codes.shape == (10000, 2)
    assert "shipped" in tab.panel.note.text()
    click_plot(qtbot, tab.map, 0.0, 0.0, modifier=CTRL)
    assert "Inspecting a test digit needs MNIST" in tab.panel.note.text()


def test_switching_to_the_autoencoder(qtbot, make_window):
    window = make_window()
    window.show()
    tab = window.tab_by_key["latent"]
    qtbot.waitUntil(lambda: tab.current is not None, timeout=10000)
    choose(qtbot, tab.panel.model, "Autoencoder")
    qtbot.waitUntil(lambda: tab.current.name == "autoencoder", timeout=10000)
    assert tab.current.logvar is None and tab.current.codes.shape == (10000, 2)


def test_mixture_prior_from_the_gmm_fitter(qtbot, make_window):
    window = make_window()
    window.show()
    latent, gmm = window.tab_by_key["latent"], window.tab_by_key["gmm"]
    qtbot.waitUntil(lambda: latent.current is not None, timeout=10000)
    window.tabs.setCurrentWidget(gmm)
    type_into(qtbot, gmm.panel.k, "10")
    choose(qtbot, gmm.panel.source, "VAE latent codes")  # picking a source loads it and fits
    qtbot.waitUntil(lambda: gmm.em_done is not None and len(gmm.points) == 10000, timeout=60000)
    press(qtbot, gmm.panel.prior_button)
    assert window.tabs.currentWidget() is latent
    assert latent.panel.prior_choice.currentText() == "Mixture, K = 10"
    type_into(qtbot, latent.panel.n_samples, "50")
    press(qtbot, latent.panel.sample_button)
    qtbot.waitUntil(lambda: len(latent.map.samples.data) == 50, timeout=5000)
