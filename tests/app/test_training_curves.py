"""The training curves set their view ranges themselves, and rarely: a range change rebuilds and repaints the
axes, the largest share of the monitor's GUI time (bench/training.py)."""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from app.tabs.training.curves import CurvePanel, data_bounds, sticky_range


def test_sticky_range_holds_then_widens():
    assert sticky_range(None, 0.0, 10.0, 0.1, 0.5) == (-1.0, 15.0)
    assert sticky_range((-1.0, 15.0), 2.0, 12.0, 0.1, 0.5) == (-1.0, 15.0), "inside and fills half: held"
    assert sticky_range((-1.0, 15.0), 0.0, 16.0, 0.1, 0.5) == pytest.approx((-1.6, 24.0)), "outside: widened"
    assert sticky_range((-1.0, 15.0), 4.0, 5.0, 0.1, 0.5) == pytest.approx((3.9, 5.5)), "a tenth of it: refitted"
    assert sticky_range(None, 3.0, 3.0, 0.5, 0.5) == pytest.approx((2.85, 3.15)), "one value: a tenth of it"
    assert sticky_range(None, 0.0, 0.0, 0.5, 0.5) == (-0.5, 0.5)


def test_data_bounds_in_view_coordinates():
    x, y = np.array([1.0, 10.0, 100.0]), np.array([0.0, 1e-3, 1e-1])
    assert data_bounds([(x, y)], False, False) == ((1.0, 100.0), (0.0, 0.1))
    (xl, xh), (yl, yh) = data_bounds([(x, y)], True, True)  # log: the non-positive point is left out
    assert (xl, xh, yl, yh) == pytest.approx((1.0, 2.0, -3.0, -1.0))
    assert data_bounds([(x, np.full(3, np.nan))], False, False) is None


@pytest.fixture
def panel(qtbot):
    p = CurvePanel(["loss", "learning rate"], columns=2, unsmoothed={"learning rate"}, log_y={"learning rate"})
    p.timer.stop()  # redraws driven by the test
    p.resize(800, 300)
    qtbot.addWidget(p)
    p.show()
    qtbot.waitExposed(p)
    return p


def feed(panel, steps, redraw_every=10):
    """A falling, noisy loss and a decaying learning rate; a redraw of each plot every ``redraw_every`` steps.
    Returns how many times each plot's range changed."""
    changes = {name: 0 for name in panel.plots}
    rng = np.random.default_rng(0)
    for step in steps:
        panel.add_point("loss", "train loss", step, 500 / np.sqrt(step) + 20 + rng.normal(0, 3))
        panel.add_point("learning rate", "lr", step, 1e-3 * 0.999 ** step)
        if step % redraw_every == 0:
            for name in panel.plots:
                before = panel.ranges.get(name)
                panel.redraw(everything=True)
                changes[name] += panel.ranges.get(name) != before
    return changes


def in_view(panel, name) -> bool:
    (x0, x1), (y0, y1) = panel.plots[name].getViewBox().viewRange()
    x, y = panel.shown(next(k for k in panel.series if k[0] == name))
    if panel.plots[name].ctrl.logYCheck.isChecked():
        y = np.log10(y)
    return x0 <= x.min() and x.max() <= x1 and y0 <= y.min() and y.max() <= y1


def test_a_known_run_length_fixes_x_and_y_moves_rarely(panel):
    panel.set_steps(2000)
    changes = feed(panel, range(1, 2001))
    assert panel.ranges["loss"][0] == (0.0, 2000.0)
    assert changes["loss"] <= 8 and changes["learning rate"] <= 8, f"200 redraws, {changes} range changes"
    assert in_view(panel, "loss") and in_view(panel, "learning rate")


def test_an_open_ended_run_grows_its_x_range_geometrically(panel):
    changes = feed(panel, range(1, 3001))
    assert changes["loss"] <= 20, f"300 redraws, {changes['loss']} range changes"
    assert in_view(panel, "loss")
    (x0, x1), _ = panel.ranges["loss"]
    assert x1 >= 3000 and (3000 - 1) >= 0.5 * (x1 - x0), "the run fills at least half the width"


def wheel(widget, delta: int = 120) -> None:
    """A real wheel event over the middle of ``widget`` (QTest has no wheel)."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, delta),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)
    QApplication.sendEvent(widget, event)


def test_zooming_a_plot_hands_its_range_to_the_user_and_log_gives_it_back(panel, qtbot):
    feed(panel, range(1, 101))
    view = panel.plots["loss"].getViewBox()
    plot_widget = next(w for w in panel.findChildren(type(panel.plots["loss"].getViewWidget()))
                       if w.getPlotItem() is panel.plots["loss"])
    wheel(plot_widget.viewport())
    assert "loss" not in panel.managed
    zoomed = view.viewRange()
    feed(panel, range(101, 400))
    assert view.viewRange() == zoomed, "the panel leaves a zoomed plot alone"
    assert "learning rate" in panel.managed
    qtbot.waitUntil(lambda: panel.ranges.get("learning rate") is not None)
    panel.set_log(False, True)  # what the monitor's "log y" box does
    assert "loss" in panel.managed and in_view(panel, "loss")


def test_titles_name_the_curves_in_colour_and_no_legend_covers_the_data(qtbot):
    panel = CurvePanel(["terms", "learning rate"], zero_based={"learning rate"})
    qtbot.addWidget(panel)
    for step in range(1, 40):
        panel.add_point("terms", "elbo", step, -100.0 + step)
        panel.add_point("terms", "recon", step, -90.0 + step)
        panel.add_point("learning rate", "lr", step, 1e-3)
    panel.add_point("terms", "val elbo", 39, -60.0)
    panel.show()
    title = panel.plots["terms"].titleLabel.text
    assert "elbo" in title and "recon" in title and "validation" in title and "val elbo" not in title
    colour = lambda curve: panel.items[("terms", curve)].opts["pen"].color().getRgb()  # noqa: E731
    assert colour("val elbo") == colour("elbo") != colour("recon")
    assert all(plot.legend is None for plot in panel.plots.values())
    view = panel.plots["learning rate"].getViewBox()  # fitted by the panel's own redraw timer
    qtbot.waitUntil(lambda: view.viewRange()[1][0] == 0.0 and view.viewRange()[1][1] > 1e-3, timeout=3000)  # a flat schedule gets an axis from 0, with readable ticks
