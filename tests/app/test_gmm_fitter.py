"""GMM fitter driven as a user does (tests/app/gui.py): fit, play, step, rewind, drag, choose K."""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from app.tabs.gmm.fitter import MAX_DISPLAY
from engine.data.tables import make_blobs_mixture
from tests.app.gui import button, choose, click_plot, drag, open_tab, press, type_into, view_point


@pytest.fixture
def tab(qtbot, make_window):
    window = make_window()
    return open_tab(qtbot, window, "gmm")


def blobs(n=600, k=3, seed=0):
    points, _ = make_blobs_mixture(n, k, seed)
    return np.asarray(points, np.float64)


def fit_and_wait(qtbot, tab, points, k=3, cov="full"):
    tab.set_points(points)
    type_into(qtbot, tab.panel.k, str(k))
    choose(qtbot, tab.panel.cov, cov)
    press(qtbot, tab.panel.buttons["Fit"])
    qtbot.waitUntil(lambda: tab.em_done is not None, timeout=20000)


def test_fit_records_alternating_steps_and_rising_likelihood(qtbot, tab):
    fit_and_wait(qtbot, tab, blobs())
    kinds = [f.kind for f in tab.frames]
    assert kinds[0] == "init" and kinds[1:3] == ["E", "M"]
    assert all(a != b for a, b in zip(kinds[1:], kinds[2:])), "E and M alternate"
    ll = [f.loglik for f in tab.frames if f.kind == "M"]
    assert all(b >= a - 1e-9 for a, b in zip(ll, ll[1:]))
    e_frame = next(f for f in tab.frames if f.kind == "E")
    assert e_frame.resp.shape == (600, 3)
    np.testing.assert_allclose(e_frame.resp.astype(np.float32).sum(1), 1.0, atol=2e-3)
    assert "converged" in tab.panel.note.text()


def test_playback_reaches_the_last_frame(qtbot, tab):
    qtbot.keyClick(tab.panel.speed_slider, Qt.Key.Key_End)
    assert tab.panel.speed_slider.value() == 60
    fit_and_wait(qtbot, tab, blobs(300))
    qtbot.waitUntil(lambda: tab.index == len(tab.frames) - 1 and not tab.timer.isActive(), timeout=20000)


def test_step_buttons_and_history_rewind(qtbot, tab):
    fit_and_wait(qtbot, tab, blobs(300))
    press(qtbot, tab.panel.buttons["Pause"])
    qtbot.keyClick(tab.history, Qt.Key.Key_Home)
    assert tab.index == 0
    press(qtbot, tab.panel.buttons["Step E"])
    assert tab.current_frame().kind == "E"
    press(qtbot, tab.panel.buttons["Step M"])
    assert tab.current_frame().kind == "M" and tab.current_frame().iteration == 1
    qtbot.keyClick(tab.history, Qt.Key.Key_End)
    assert tab.index == len(tab.frames) - 1 and "iteration" in tab.frame_label.text()


def test_dragging_a_mean_restarts_em_from_there(qtbot, tab):
    fit_and_wait(qtbot, tab, blobs(300))
    mean = tab.frames[-1].means[1]
    start, end = view_point(tab.view, *mean), view_point(tab.view, 0.25, -0.5)
    drag(qtbot, tab.view.viewport(), [start + (end - start) * (i / 10) for i in range(11)])
    qtbot.waitUntil(lambda: tab.em_done is not None and tab.frames and tab.frames[0].kind == "init", timeout=20000)
    np.testing.assert_allclose(tab.frames[0].means[1], (0.25, -0.5), atol=0.05)
    assert "Restarted" in tab.panel.note.text() or "EM" in tab.panel.note.text()


def test_choose_k_finds_the_true_number_of_blobs(qtbot, tab):
    points, _ = make_blobs_mixture(600, 3, 1, separation=8.0)
    tab.set_points(np.asarray(points))
    press(qtbot, tab.panel.k_button)
    qtbot.waitUntil(lambda: tab.panel.best_line.isVisible(), timeout=30000)
    assert tab.panel.k.value() == 3 and "K = 3" in tab.panel.k_result.text()
    qtbot.waitUntil(lambda: tab.em_done is not None and tab.gmm.n_components == 3, timeout=20000)


def test_sampling_from_the_fit(qtbot, tab):
    fit_and_wait(qtbot, tab, blobs(300))
    type_into(qtbot, tab.panel.n_samples, "123")
    press(qtbot, button(tab.panel, "Sample"))
    assert len(tab.view.samples.data) == 123


def test_k_larger_than_n_is_refused(qtbot, tab):
    tab.set_points(np.random.default_rng(0).normal(size=(4, 2)))
    type_into(qtbot, tab.panel.k, "6")
    press(qtbot, tab.panel.buttons["Fit"])
    assert "Cannot fit 6 components to 4 points" in tab.panel.note.text()


def test_duplicate_points_stay_finite(qtbot, tab):
    points = np.vstack([np.zeros((50, 2)), np.random.default_rng(0).normal(size=(50, 2))])
    fit_and_wait(qtbot, tab, points, k=3)
    assert np.isfinite(tab.frames[-1].covs).all()


def test_large_data_is_subsampled_for_display_only(qtbot, tab):
    tab.set_points(blobs(MAX_DISPLAY + 5000))
    assert len(tab.display) == MAX_DISPLAY and f"{MAX_DISPLAY:,}" in tab.panel.data_note.text()


def test_csv_with_bad_rows(qtbot, tab, tmp_path, monkeypatch):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,name\n1,2,x\n3,oops,y\nnan,1,z\n" + "".join(f"{i},{i % 7},w\n" for i in range(40)))
    monkeypatch.setattr("app.widgets.point_source.QFileDialog.getOpenFileName", lambda *a, **k: (str(csv), ""))
    choose(qtbot, tab.panel.source, "CSV file…")
    qtbot.waitUntil(lambda: len(tab.points) == 41, timeout=10000)
    note = tab.panel.data_note.text()
    assert "2" in note and "skipped" in note.lower()


def test_drawing_points(qtbot, tab):
    choose(qtbot, tab.panel.source, "Draw points")
    assert tab.view.drawing and len(tab.points) == 0
    click_plot(qtbot, tab.view, 0.5, 0.5)
    assert len(tab.points) == 1
    np.testing.assert_allclose(tab.points[0], (0.5, 0.5), atol=0.05)
    start = view_point(tab.view, 0.5, 0.5)
    drag(qtbot, tab.view.viewport(), [start + QPoint(4 * i, -3 * i) for i in range(6)])  # a drag sprays points
    assert len(tab.points) > 4
