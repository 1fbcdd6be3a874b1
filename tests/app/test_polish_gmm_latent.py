"""GMM fitter and latent explorer polish (issue #12), pressed as a user does: BIC cleared with new data,
whole-number iteration ticks, a mixture prior tied to the latent space it was fitted in, prior samples cleared
on a model change, the autoencoder's missing prior said, inspector and prior rings labelled."""

import shutil

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from app.widgets.axes import IntegerAxis
from engine.cards.bundled import find_bundled


def pick(qtbot, combo, text):
    """Choose ``text`` in a combo box with the keyboard: typed (type-ahead) or, for a non-ASCII name such as
    "β-VAE", with the arrow keys; either emits activated, as a user's choice does."""
    combo.setFocus()
    if text.isascii():
        qtbot.keyClicks(combo, text)
    target = combo.findText(text)
    assert target >= 0, text
    while combo.currentIndex() != target:
        qtbot.keyClick(combo, Qt.Key.Key_Down if combo.currentIndex() < target else Qt.Key.Key_Up)
    assert combo.currentText() == text


def click(qtbot, widget):
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


@pytest.fixture
def window(qtbot, make_window):
    window = make_window()
    window.resize(1200, 800)
    window.show()
    return window


def gmm_tab(qtbot, window):
    tab = window.tab_by_key["gmm"]
    window.tabs.setCurrentWidget(tab)
    qtbot.waitUntil(lambda: tab.em_done is not None, timeout=30000)
    return tab


def latent_tab(qtbot, window, name="vae"):
    tab = window.tab_by_key["latent"]
    qtbot.waitUntil(lambda: tab.current is not None and tab.current.name == name, timeout=30000)
    return tab


def switch_model(qtbot, tab, label, name):
    pick(qtbot, tab.panel.model, label)
    qtbot.waitUntil(lambda: tab.current.name == name, timeout=30000)


# --------------------------------------------------------------------------- GMM


def test_bic_curve_goes_when_the_data_change(qtbot, window):
    tab = gmm_tab(qtbot, window)
    click(qtbot, tab.panel.k_button)
    qtbot.waitUntil(lambda: tab.panel.best_line.isVisible(), timeout=60000)
    assert len(tab.panel.bic_curve.getData()[0]) == 10
    assert tab.panel.best_line.isVisible() and tab.panel.k_result.text()
    pick(qtbot, tab.panel.source, "Draw points")
    x, _ = tab.panel.bic_curve.getData()
    assert (x is None or len(x) == 0) and not tab.panel.best_line.isVisible() and tab.panel.k_result.text() == ""


def test_iteration_and_k_axes_count_in_whole_numbers(qtbot, window):
    tab = gmm_tab(qtbot, window)
    for plot in (tab.loglik_plot, tab.panel.k_plot):
        axis = plot.getAxis("bottom")
        assert isinstance(axis, IntegerAxis)
        lo, hi = axis.range
        assert all(float(v).is_integer() for _, level in axis.tickValues(lo, hi, axis.width()) for v in level)
        assert plot.getPlotItem().getContentsMargins()[1] >= 8, "room above the top tick label"


# ----------------------------------------------------------------------- priors


def fit_latent_prior(qtbot, window):
    gmm = window.tab_by_key["gmm"]
    window.tabs.setCurrentWidget(gmm)
    qtbot.waitUntil(lambda: gmm.em_done is not None, timeout=30000)
    pick(qtbot, gmm.panel.source, "VAE latent codes")
    qtbot.waitUntil(lambda: gmm.panel.prior_button.isEnabled(), timeout=60000)
    click(qtbot, gmm.panel.prior_button)
    return gmm


def test_a_mixture_prior_belongs_to_the_latent_space_it_was_fitted_in(qtbot, window):
    latent = latent_tab(qtbot, window)
    fit_latent_prior(qtbot, window)
    choice = latent.panel.prior_choice
    assert window.tabs.currentWidget() is latent and choice.currentText().startswith("Mixture, K = ")
    label = choice.currentText()
    switch_model(qtbot, latent, "β-VAE (β=4)", "beta_vae")
    assert [choice.itemText(i) for i in range(choice.count())] == ["N(0, I)"]
    assert "back to N(0, I)" in latent.panel.note.text() and "bundled VAE" in latent.panel.note.text()
    switch_model(qtbot, latent, "VAE", "vae")
    assert choice.findText(label) >= 0, "back in its own latent space, the mixture is offered again"


def test_a_newly_opened_model_does_not_inherit_the_mixture(qtbot, window, tmp_path):
    latent = latent_tab(qtbot, window)
    fit_latent_prior(qtbot, window)
    copy = tmp_path / "my_vae.safetensors"
    shutil.copy(find_bundled("vae").path, copy)
    window.open_checkpoint(copy)
    qtbot.waitUntil(lambda: latent.current.name == "my_vae", timeout=30000)
    choice = latent.panel.prior_choice
    assert [choice.itemText(i) for i in range(choice.count())] == ["N(0, I)"]


def test_prior_samples_go_with_the_model_and_the_autoencoder_says_it_has_no_prior(qtbot, window):
    latent = latent_tab(qtbot, window)
    window.tabs.setCurrentWidget(latent)
    assert latent.panel.prior_note.isHidden()
    click(qtbot, latent.panel.sample_button)
    qtbot.waitUntil(lambda: latent.panel.samples_view.image is not None, timeout=30000)
    switch_model(qtbot, latent, "Autoencoder", "autoencoder")
    assert latent.panel.samples_view.image is None, "the VAE's prior samples are gone"
    assert not latent.panel.prior_note.isHidden() and "no prior" in latent.panel.prior_note.text()
    switch_model(qtbot, latent, "VAE", "vae")
    assert latent.panel.prior_note.isHidden()


def test_inspector_boxes_and_prior_rings_are_labelled(qtbot, window):
    latent = latent_tab(qtbot, window)
    window.tabs.setCurrentWidget(latent)
    titles = {label.text() for label in latent.panel.inspect.findChildren(QLabel)}  # the inspector, under the map
    assert {"Draw here", "Input", "Reconstruction"} <= titles
    assert all(not label.isVisible() for label in latent.map.ring_labels)
    click(qtbot, latent.panel.show_prior)
    assert [label.textItem.toPlainText() for label in latent.map.ring_labels] == ["1σ", "2σ", "3σ"]
    assert all(label.isVisible() for label in latent.map.ring_labels)
    radii = [np.hypot(label.pos().x(), label.pos().y()) for label in latent.map.ring_labels]
    assert radii == pytest.approx([1, 2, 3], abs=1e-3), "each label sits on its ring"
