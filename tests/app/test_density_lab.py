"""Density lab driven as a user does (tests/app/gui.py): pick data, press Train, move the stage slider, click a
point for its Jacobian X-ray, feed it bad CSV files."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.app.gui import choose, click_plot, open_tab, press, type_into


@pytest.fixture
def tab(qtbot, make_window):
    window = make_window()
    tab = open_tab(qtbot, window, "density")
    qtbot.waitUntil(lambda: len(tab.points) > 0, timeout=20000)  # the first source (a generated mixture)
    return tab


def train(qtbot, tab, source="Two moons", epochs=8):
    """Pick ``source``, type the epochs, press Train; wait for the flow and the GMM."""
    choose(qtbot, tab.panel.source, source)
    qtbot.waitUntil(lambda: tab.panel.picker.job is None and tab.name == source, timeout=20000)
    assert tab.snapshot is None and tab.panel.progress.text().endswith("Press Train.")
    type_into(qtbot, tab.panel.epochs, str(epochs))
    type_into(qtbot, tab.panel.layers, "5")
    press(qtbot, tab.panel.train_button)
    assert not tab.panel.train_button.isEnabled() and tab.panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: tab.job.state.finished and tab.panel.train_button.isEnabled(), timeout=60000)
    qtbot.waitUntil(lambda: tab.gmm_job.state.finished, timeout=60000)


def table(tab) -> dict[str, list[str]]:
    t = tab.panel.table
    return {t.item(r, 0).text(): [t.item(r, c).text() for c in (1, 2)] for r in range(t.rowCount())}


def test_train_button_trains_a_flow_live_and_fills_the_table(qtbot, tab):
    train(qtbot, tab, epochs=8)
    snap = tab.snapshot
    assert snap is not None and snap.epoch == 8 and snap.density.shape[0] == 6  # base + 5 layers
    rows = table(tab)
    maf, gmm = next(k for k in rows if k.startswith("MAF")), next(k for k in rows if k.startswith("GMM, K ="))
    assert all(np.isfinite(float(v)) for v in rows[maf] + rows[gmm])
    assert float(rows[maf][1]) == pytest.approx(snap.test_ll, abs=1e-4)
    assert "Trained 8 epochs" in tab.note.text()


def test_the_stage_slider_walks_from_the_gaussian_base_to_the_data(qtbot, tab):
    train(qtbot, tab, epochs=5)
    snap, slider = tab.snapshot, tab.stage
    assert slider.maximum() == 5 and slider.value() == 5 and "data" in tab.stage_label.text()
    qtbot.keyClick(slider, Qt.Key.Key_Home)
    assert tab.stage_label.text() == "Gaussian base"
    base = snap.scaler.forward(np.column_stack(tab.view.samples.getData()))
    assert abs(base.mean()) < 0.15 and base.std() == pytest.approx(1.0, abs=0.1), "stage 0 is N(0, I)"
    x0, x1, y0, y1 = snap.extent
    cell = (x1 - x0) / (snap.density.shape[2] - 1) * (y1 - y0) / (snap.density.shape[1] - 1)
    assert snap.density[0].sum() * cell == pytest.approx(1.0, abs=0.02), "the base's mass lies on the grid"
    qtbot.keyClick(slider, Qt.Key.Key_Right)
    assert tab.stage_label.text() == "after layer 1 of 5"
    np.testing.assert_allclose(np.column_stack(tab.view.samples.getData()), snap.samples[1], rtol=1e-6)


def test_clicking_a_point_x_rays_its_jacobian(qtbot, tab):
    train(qtbot, tab, epochs=5)
    choose(qtbot, tab.xray.layer, "Layer 2 of 5")
    click_plot(qtbot, tab.view, 0.5, 0.25)
    qtbot.waitUntil(lambda: tab.xray.result is not None, timeout=10000)
    r = tab.xray.result
    assert r.point == pytest.approx((0.5, 0.25), abs=0.05) and r.layer == 1
    assert r.jacobian[0, 1] == 0.0 and r.jacobian[0, 0] != 0 and r.jacobian[1, 1] != 0, "lower triangular"
    assert r.fast_logdet == pytest.approx(r.slogdet, abs=1e-5)
    assert [t.textItem.toPlainText() for t in tab.xray.matrix.texts][1] == "0", "a zero reads 0"
    assert "slogdet" in tab.xray.numbers.text()
    choose(qtbot, tab.xray.layer, "Whole flow")
    qtbot.waitUntil(lambda: tab.xray.result.layer is None, timeout=10000)
    assert tab.xray.result.fast_logdet == pytest.approx(tab.xray.result.slogdet, abs=1e-4)


def load_csv(qtbot, tab, monkeypatch, path):
    monkeypatch.setattr("app.widgets.point_source.QFileDialog.getOpenFileName", lambda *a, **k: (str(path), ""))
    choose(qtbot, tab.panel.source, "CSV file…")
    qtbot.waitUntil(lambda: tab.panel.picker.job is None, timeout=10000)
    qtbot.wait(50)


@pytest.mark.parametrize("text, says", [
    ("x,y\n1,2\nnan,3\nhello,4\n5,6\n", "at least 3"),  # NaN and text rows skipped: 2 points are left
    ("x,y\n" + "1,2\n" * 30, "identical"),
    ("x,y\na,b\nc,d\n", "numeric"),
])
def test_bad_csv_gets_one_sentence_and_the_fit_stays(qtbot, tab, tmp_path, monkeypatch, text, says):
    train(qtbot, tab, epochs=2)
    points, snap = tab.points.copy(), tab.snapshot
    path = tmp_path / "bad.csv"
    path.write_text(text)
    load_csv(qtbot, tab, monkeypatch, path)
    assert says in tab.note.text().lower() or says in tab.note.text()
    assert tab.snapshot is snap and np.array_equal(tab.points, points), "the previous data and fit stay"
    assert tab.isVisible()


def test_a_csv_with_some_bad_rows_loads_the_good_ones(qtbot, tab, tmp_path, monkeypatch):
    path = tmp_path / "some.csv"
    path.write_text("a,b\n1,2\nnan,3\nx,4\n" + "".join(f"{i},{(i * 7) % 5}\n" for i in range(20)))
    load_csv(qtbot, tab, monkeypatch, path)
    assert len(tab.points) == 21 and "skipped 2" in tab.data_note.text()


def test_training_fewer_than_three_drawn_points_is_refused(qtbot, tab):
    choose(qtbot, tab.panel.source, "Draw points")
    for xy in ((0.2, 0.2), (0.6, 0.4)):
        click_plot(qtbot, tab.view, *xy)
    assert len(tab.points) == 2
    press(qtbot, tab.panel.train_button)
    assert "at least 3" in tab.note.text() and tab.job is None and tab.snapshot is None


def test_costs_page_measures_both_curves_from_its_buttons(qtbot, tab, monkeypatch):
    monkeypatch.setattr("app.tabs.density.costs.COST_DIMS", (2, 8, 32))
    monkeypatch.setattr("app.tabs.density.costs.DIRECTION_DIMS", (2, 32))
    bar = tab.pages.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
    costs = tab.costs
    assert tab.pages.currentWidget() is costs
    press(qtbot, costs.logdet_button)
    press(qtbot, costs.direction_button)
    qtbot.waitUntil(lambda: not costs.jobs, timeout=120000)
    curves = costs.logdet_curves  # xData, yData: the measured values (getData gives their logarithms)
    dims, fast, slow = curves["sum of log-scales"].xData, curves["sum of log-scales"].yData, \
        curves["slogdet of the Jacobian"].yData
    assert list(dims) == [2, 8, 32] and slow[-1] > 3 * fast[-1], "slogdet of the autograd Jacobian is slower"
    assert "slogdet takes" in costs.logdet_note.text()
    last = {name: curve.yData[-1] for name, curve in costs.direction_curves.items()}
    assert last["MAF density"] < last["MAF sample"] and last["IAF sample"] < last["IAF density"]
    assert costs.logdet_button.isEnabled() and costs.direction_button.isEnabled()


def test_stop_ends_training_and_keeps_the_flow_so_far(qtbot, tab):
    choose(qtbot, tab.panel.source, "Two moons")
    qtbot.waitUntil(lambda: tab.panel.picker.job is None and tab.name == "Two moons", timeout=20000)
    click_plot(qtbot, tab.view, 0.5, 0.25)
    assert "Train the flow first" in tab.note.text()
    type_into(qtbot, tab.panel.epochs, "2000")
    press(qtbot, tab.panel.train_button)
    qtbot.waitUntil(lambda: tab.snapshot is not None, timeout=30000)
    press(qtbot, tab.panel.stop_button)
    assert tab.panel.train_button.isEnabled() and not tab.panel.stop_button.isEnabled()
    assert "Stopped" in tab.note.text()
    snap = tab.snapshot
    qtbot.wait(300)
    assert tab.snapshot is snap and snap.epoch < 2000, "stopped: no more snapshots, the last one stays"


def test_same_seed_same_flow():
    from app.tabs.density.lab import LabSettings, train_lab
    from engine.data.points2d import two_moons
    from engine.events import Done

    points = two_moons(300, seed=3).points
    runs = [[e for e in train_lab(points, LabSettings(epochs=2, seed=5)) if isinstance(e, Done)][0].result
            for _ in range(2)]
    np.testing.assert_array_equal(runs[0].density, runs[1].density)
    np.testing.assert_array_equal(runs[0].samples, runs[1].samples)
    assert runs[0].test_ll == runs[1].test_ll
