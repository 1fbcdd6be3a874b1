"""Plot axes shared by several tabs: whole-number ticks, plain numbers (no SI prefix), room for the top label."""

from __future__ import annotations

import math

import pyqtgraph as pg


class IntegerAxis(pg.AxisItem):
    """Ticks only at whole numbers (EM iterations, K): never 2.5 iterations; no SI prefix."""

    def __init__(self, orientation: str = "bottom", **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        no_si_prefix(self)

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph's name
        levels = [(spacing, [v for v in values if float(v).is_integer()])
                  for spacing, values in super().tickValues(minVal, maxVal, size) if spacing >= 1]
        levels = [(spacing, values) for spacing, values in levels if values]
        if not levels:  # a range narrower than one: its whole numbers, if any
            levels = [(1.0, [float(v) for v in range(math.ceil(minVal), math.floor(maxVal) + 1)])]
        return levels


def no_si_prefix(axis: pg.AxisItem) -> None:
    """Plain numbers at every range: no "(x0.001)" on an empty plot. (``enableAutoSIPrefix(False)`` freezes
    whatever scale the axis had at that moment, e.g. x1000 for a 0..1 ms range, in pyqtgraph 0.14.)"""
    axis.setSIPrefixEnableRanges(())
    axis.updateAutoSIPrefix()


def room_for_top_label(plot: pg.PlotWidget) -> None:
    """Leave room above the plot so the top tick label is not cut in half by the widget's edge."""
    plot.getPlotItem().setContentsMargins(2, 10, 8, 2)


def integer_axis() -> dict:
    """``axisItems`` for a PlotWidget whose x axis counts: ``pg.PlotWidget(axisItems=integer_axis())``."""
    return {"bottom": IntegerAxis("bottom")}
