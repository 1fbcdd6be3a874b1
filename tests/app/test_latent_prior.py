"""The latent explorer's learned prior, pressed as a user does: fit a MAF on the codes, use it as the prior
(contours of its density, samples from it), switch the model (nothing of the old latent space stays), and the
prior table from a data folder; the contour lines land where the density has the level asked for."""

import numpy as np
import pytest
import torch

from app.tabs.latent.learned_prior import contour_lines
from engine.data.folder import DataFolder
from engine.models.latent_prior import StandardNormal, density_raster
from tests.app.gui import choose, press


def wait_model(qtbot, tab, name):
    qtbot.waitUntil(lambda: tab.current is not None and tab.current.name == name, timeout=30000)


def latent_tab(qtbot, window):
    """The latent explorer of ``window`` at 1200 x 800, on the bundled VAE."""
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    tab = window.tab_by_key["latent"]
    window.tabs.setCurrentWidget(tab)
    wait_model(qtbot, tab, "vae")
    return tab


@pytest.fixture
def tab(qtbot, make_window):
    return latent_tab(qtbot, make_window())


def fit_flow(qtbot, tab):
    press(qtbot, tab.panel.fit_flow)
    qtbot.waitUntil(tab.panel.use_flow.isEnabled, timeout=120000)


def test_fit_use_contours_and_samples_of_the_flow_prior(qtbot, tab):
    panel, m = tab.panel, tab.map
    assert not panel.use_flow.isEnabled() and panel.prior_choice.count() == 1
    fit_flow(qtbot, tab)
    assert "test digits' codes" in panel.flow_status.text()  # no training images in this data folder: said
    press(qtbot, panel.use_flow)
    assert panel.prior_choice.currentText() == "MAF" and panel.show_prior.isChecked()
    qtbot.waitUntil(lambda: tab.learned.raster is not None, timeout=30000)
    xy = m.prior_rings.getData()
    assert np.isnan(xy[0]).sum() >= 3, "three or more contour lines of the flow's density"
    assert not any(label.isVisible() for label in m.ring_labels), "the sigma labels belong to N(0, I)"
    radius = np.hypot(*xy)[np.isfinite(xy[0])]
    assert radius.std() > 0.3, "not the N(0, I) circles"
    press(qtbot, panel.sample_button)
    qtbot.waitUntil(lambda: len(m.samples.data) == panel.n_samples.value(), timeout=30000)
    assert panel.samples_view.image is not None


def test_switching_the_model_drops_the_flow_of_the_old_latent_space(qtbot, tab):
    panel = tab.panel
    fit_flow(qtbot, tab)
    press(qtbot, panel.use_flow)
    choose(qtbot, panel.model, "β-VAE (β=4)")
    wait_model(qtbot, tab, "beta_vae")
    assert [panel.prior_choice.itemText(i) for i in range(panel.prior_choice.count())] == ["N(0, I)"]
    assert not panel.use_flow.isEnabled() and panel.flow_status.text() == "No flow fitted for this model."
    assert "back to N(0, I)" in panel.note.text()
    assert all(label.isVisible() for label in tab.map.ring_labels), "N(0, I)'s circles again"
    choose(qtbot, panel.model, "VAE")
    wait_model(qtbot, tab, "vae")
    assert panel.prior_choice.findText("MAF") >= 0 and panel.use_flow.isEnabled()


def test_the_prior_table_without_data_says_so(qtbot, tab):
    press(qtbot, tab.panel.table_button)
    assert "binarized MNIST" in tab.panel.table.text()


def write_amat(path, rows):
    path.write_text("\n".join(" ".join(str(int(v)) for v in row) for row in rows) + "\n")


@pytest.fixture
def data_tab(qtbot, make_window, tmp_path):
    folder = tmp_path / "data" / "binarized_mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 300), ("valid", 10), ("test", 40)):
        write_amat(folder / f"binarized_mnist_{split}.amat", rng.random((n, 784)) < 0.15)
    return latent_tab(qtbot, make_window(data=DataFolder(tmp_path / "data", "explicit")))


def test_the_prior_table_scores_three_priors_and_stays_with_its_model(qtbot, data_tab):
    panel = data_tab.panel
    press(qtbot, panel.table_button)
    qtbot.waitUntil(lambda: "MAF" in panel.table.text(), timeout=180000)
    text = panel.table.text()
    assert "N(0, I)" in text and "GMM, K = " in text and "40 evenly spaced test digits" in text
    assert "prior gap" in text and "KL(q(z)" in text
    choose(qtbot, panel.model, "β-VAE (β=4)")
    wait_model(qtbot, data_tab, "beta_vae")
    assert panel.table.text() == "", "the VAE's table is not the β-VAE's"
    choose(qtbot, panel.model, "VAE")
    wait_model(qtbot, data_tab, "vae")
    assert panel.table.text() == text


def test_contour_lines_lie_on_their_density_level():
    x_range = y_range = (-4.0, 4.0)
    density = density_raster(StandardNormal(), x_range, y_range, 160)
    level = float(np.exp(-0.5) / (2 * np.pi))  # the 1-sigma circle
    xy = contour_lines(density, [level], x_range, y_range)
    xy = xy[np.isfinite(xy[:, 0])]
    assert len(xy) > 50 and np.allclose(np.hypot(xy[:, 0], xy[:, 1]), 1.0, atol=0.03)
    values = np.exp(StandardNormal().log_prob(torch.as_tensor(xy)).numpy())
    assert np.allclose(values, level, rtol=0.05)
