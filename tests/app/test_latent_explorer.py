"""Latent explorer driven with pytest-qt: hover, pins, strip, grid, inspect."""

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from engine.sampling import latent as lm
from engine.checkpoints import save_checkpoint
from engine.models.vae import VAE

NM = Qt.KeyboardModifier.NoModifier


@pytest.fixture
def tab(qtbot, make_window, tmp_path):
    window = make_window()
    tab = window.tab_by_key["latent"]
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=(32,))
    path = save_checkpoint(tmp_path / "tiny.safetensors", model.state_dict(), {"kind": "vae", "hparams": model.hparams()})
    assert window.open_checkpoint(path)
    qtbot.waitUntil(lambda: tab.current is not None and tab.current.name == "tiny", timeout=10000)
    window.show()
    return tab


def test_hover_decodes_latest_position(qtbot, tab):
    for x in np.linspace(-2, 2, 30):
        tab.map.hovered.emit(float(x), 0.5)
    expected = lm.decode_point(tab.current.model, (2.0, 0.5))
    qtbot.waitUntil(lambda: tab.panel.decoded.image is not None
                    and np.allclose(tab.panel.decoded.image, expected, atol=1e-6), timeout=5000)
    assert "+2.00" in tab.panel.cursor_label.text()


def test_pins_thumbnails_and_interpolation_strip(qtbot, tab, tmp_path, monkeypatch):
    tab.map.clicked.emit(-1.0, 0.0, NM)
    tab.map.clicked.emit(1.0, 1.0, NM)
    assert len(tab.map.pins) == 2
    qtbot.waitUntil(lambda: tab.strip_image is not None, timeout=5000)
    assert tab.strip_image.shape == (28, 28 * tab.panel.interp_steps.value())
    qtbot.waitUntil(lambda: all(tab.panel.thumbs[i].image is not None for i in range(2)), timeout=5000)
    assert tab.panel.thumbs[1].isVisible() and not tab.panel.thumbs[2].isVisible()
    tab.panel.interp_mode.setCurrentText("spherical")
    tab.panel.interp_steps.setValue(5)
    qtbot.waitUntil(lambda: tab.strip_image.shape == (28, 140), timeout=5000)
    expected = lm.decode_path(tab.current.model, lm.interpolate((-1, 0), (1, 1), 5, "spherical"))
    np.testing.assert_allclose(tab.strip_image, expected, atol=1e-6)
    out = tmp_path / "strip.png"
    monkeypatch.setattr("app.tabs.latent.explorer.QFileDialog.getSaveFileName", lambda *a, **k: (str(out), ""))
    tab.export_strip()
    assert out.exists() and out.stat().st_size > 100


def test_dragging_a_pin_redecodes_it(qtbot, tab):
    tab.map.clicked.emit(0.0, 0.0, NM)
    tab.map.pins[0].setPos((1.5, -1.0))
    expected = lm.decode_point(tab.current.model, (1.5, -1.0))
    qtbot.waitUntil(lambda: tab.panel.thumbs[0].image is not None
                    and np.allclose(tab.panel.thumbs[0].image, expected, atol=1e-6), timeout=5000)


def test_at_most_eight_pins(qtbot, tab):
    for i in range(10):
        tab.map.clicked.emit(float(i) / 5, 0.0, NM)
    assert len(tab.map.pins) == 8 and "Eight pins" in tab.panel.note.text()
    tab.panel.clear_pins.click()
    assert tab.map.pins == []


def test_manifold_grid_follows_the_view(qtbot, tab):
    tab.panel.grid_size.setValue(6)
    tab.panel.show_grid.setChecked(True)
    qtbot.waitUntil(lambda: tab.map.grid_image.isVisible() and tab.map.grid_image.image is not None, timeout=5000)
    assert tab.map.grid_image.image.shape == (168, 168)
    tab.map.view.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
    rect = tab.map.grid_image.mapRectToParent(tab.map.grid_image.boundingRect())
    qtbot.waitUntil(lambda: abs(tab.map.grid_image.mapRectToParent(tab.map.grid_image.boundingRect()).width()
                                - tab.map.view.viewRect().width()) < 1e-3, timeout=5000)
    assert rect is not None


def test_overlays_toggle(qtbot, tab):
    tab.panel.show_prior.setChecked(True)
    assert tab.map.prior_rings.isVisible()
    tab.panel.show_points.setChecked(False)
    assert not tab.map.cloud.isVisible()


def test_empty_drawing_gives_a_hint(qtbot, tab):
    tab.inspect_image(np.zeros((28, 28), np.float32))
    assert "empty" in tab.panel.note.text()


def test_inspect_drawn_digit_reports_elbo_and_likelihood(qtbot, tab):
    tab.panel.k.setValue(50)
    img = np.zeros((28, 28), np.float32)
    img[5:23, 12:16] = 1.0
    tab.panel.pad.image = img
    tab.panel.pad.drawn.emit(img)
    qtbot.waitUntil(lambda: "gap" in tab.panel.report.text(), timeout=10000)
    text = tab.panel.report.text()
    assert "ELBO" in text and "k = 50" in text
    assert tab.map.inspected.xData is not None and len(tab.map.inspected.xData) > 10


def test_sample_prior_drops_points(qtbot, tab):
    tab.panel.n_samples.setValue(9)
    tab.panel.sample_button.click()
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
    tab = window.tab_by_key["latent"]
    qtbot.waitUntil(lambda: tab.current is not None, timeout=10000)
    assert tab.current.name == "vae" and tab.current.codes.shape == (10000, 2)
    assert "shipped" in tab.panel.note.text()
    tab.inspect_nearest(0.0, 0.0)
    assert "data folder" in tab.panel.note.text()


def test_switching_to_the_autoencoder(qtbot, make_window):
    window = make_window()
    tab = window.tab_by_key["latent"]
    qtbot.waitUntil(lambda: tab.current is not None, timeout=10000)
    tab.panel.model.setCurrentText("Autoencoder")
    tab.load_entry(tab.panel.model.currentIndex())
    qtbot.waitUntil(lambda: tab.current.name == "autoencoder", timeout=10000)
    assert tab.current.logvar is None and tab.current.codes.shape == (10000, 2)


def test_mixture_prior_from_the_gmm_fitter(qtbot, make_window):
    window = make_window()
    latent, gmm = window.tab_by_key["latent"], window.tab_by_key["gmm"]
    qtbot.waitUntil(lambda: latent.current is not None, timeout=10000)
    gmm.panel.source.setCurrentText("VAE latent codes")
    gmm.panel.k.setValue(10)
    gmm.panel.load_source()
    qtbot.waitUntil(lambda: gmm.em_done is not None and len(gmm.points) == 10000, timeout=60000)
    assert gmm.panel.prior_button.isEnabled()
    gmm.panel.prior_button.click()
    assert window.tabs.currentWidget() is latent
    assert latent.panel.prior_choice.currentText() == "Mixture, K = 10"
    latent.panel.n_samples.setValue(50)
    latent.sample_prior()
    qtbot.waitUntil(lambda: len(latent.map.samples.data) == 50, timeout=5000)
