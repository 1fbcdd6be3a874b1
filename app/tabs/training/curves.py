"""Live training curves: append points cheaply, redraw at most 5 times a second.

Every point is kept (numpy arrays that grow by doubling); pyqtgraph's peak
downsampling and clip-to-view keep long runs fast without hiding spikes.
EMA smoothing, log-x and log-y apply to all plots.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGridLayout, QWidget

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]


class Series:
    """A growing (step, value) series with its EMA kept up to date.

    Appending is amortised O(1) (arrays grow by doubling) and updates the
    debiased exponential moving average (TensorBoard-style smoothing)
    incrementally, so a redraw never recomputes it over the whole run.
    """

    def __init__(self, alpha: float = 0.0) -> None:
        self._x, self._y, self._s = np.empty(256), np.empty(256), np.empty(256)
        self.n = 0
        self.set_alpha(alpha)

    def set_alpha(self, alpha: float) -> None:
        """Change the smoothing factor in [0, 1) and recompute the EMA once."""
        self.alpha, self._acc, self._weight = float(alpha), 0.0, 0.0
        for i in range(self.n):
            self._s[i] = self._smooth(self._y[i])

    def _smooth(self, v: float) -> float:
        self._acc = self.alpha * self._acc + (1 - self.alpha) * v
        self._weight = self.alpha * self._weight + (1 - self.alpha)
        return self._acc / self._weight

    def append(self, x: float, y: float) -> None:
        if self.n == len(self._x):
            self._x, self._y, self._s = (np.concatenate([a, np.empty_like(a)]) for a in (self._x, self._y, self._s))
        self._x[self.n], self._y[self.n] = x, y
        self._s[self.n] = self._smooth(y)
        self.n += 1

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]

    @property
    def smoothed(self) -> np.ndarray:
        return self._s[: self.n]


class CurvePanel(QWidget):
    """A grid of named plots, each holding named curves.

    ``add_point(plot, curve, step, value)`` appends; a timer redraws the
    curves that changed. Curves whose name starts with "val" are drawn with
    symbols (they arrive once per epoch).
    """

    def __init__(self, plots: list[str], columns: int = 2, unsmoothed: set[str] = frozenset(),
                 log_y: set[str] = frozenset(), parent=None) -> None:
        super().__init__(parent)
        self.unsmoothed = set(unsmoothed)  # plots drawn raw (e.g. the learning rate schedule)
        self.always_log_y = set(log_y)  # plots whose values span decades (the learning rate)
        self.smoothing = 0.0
        self.plots: dict[str, pg.PlotItem] = {}
        self.series: dict[tuple[str, str], Series] = {}
        self.items: dict[tuple[str, str], pg.PlotDataItem] = {}
        self.markers: list[pg.InfiniteLine] = []
        self._dirty: set[tuple[str, str]] = set()
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        for i, name in enumerate(plots):
            # One view per plot: a plot's repaint (or its axis relayout) never repaints the others.
            widget = pg.PlotWidget(background="w", title=name)
            grid.addWidget(widget, i // columns, i % columns)
            plot = widget.getPlotItem()
            plot.getAxis("left").setWidth(52)
            # No grid: grid lines belong to the axes, so every data redraw would repaint them.
            plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
            self.plots[name] = plot
            if name in self.always_log_y:
                plot.setLogMode(y=True)
        self.timer = QTimer(self)
        self.timer.setInterval(200)  # curves need not move faster; the training thread keeps the CPU
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    def add_point(self, plot: str, curve: str, step: float, value: float) -> None:
        key = (plot, curve)
        if key not in self.series:
            self._new_curve(key)
        if np.isfinite(value):
            self.series[key].append(step, value)
            self._dirty.add(key)

    def _new_curve(self, key: tuple[str, str]) -> None:
        plot = self.plots[key[0]]
        colour = COLOURS[sum(1 for k in self.series if k[0] == key[0]) % len(COLOURS)]
        symbol = "o" if key[1].startswith("val") else None
        self.items[key] = plot.plot(pen=pg.mkPen(colour, width=1.8), name=key[1], symbol=symbol, symbolSize=5,
                                    symbolBrush=colour)
        self.series[key] = Series(self.smoothing)

    def redraw(self, everything: bool = False) -> None:
        """Push changed series to their plot items; called by the timer.

        One plot per tick, round robin: repainting a plot (axes, ticks, text)
        costs ~10 ms in software rendering, so updating all of them at once
        would stall the GUI thread and steal the core training runs on.
        """
        plots = [name for name in self.plots if any(k[0] == name for k in self._dirty)]
        if not plots:
            return
        order = list(self.plots)
        self._turn = getattr(self, "_turn", -1)
        chosen = plots if everything else [min(plots, key=lambda n: (order.index(n) - self._turn - 1) % len(order))]
        for name in chosen:
            for key in [k for k in self._dirty if k[0] == name]:
                s = self.series[key]
                raw = key[1].startswith("val") or key[0] in self.unsmoothed
                self.items[key].setData(s.x, s.y if raw else s.smoothed)
                self._dirty.discard(key)
            self._turn = order.index(name)

    def set_smoothing(self, alpha: float) -> None:
        self.smoothing = float(alpha)
        for series in self.series.values():
            series.set_alpha(self.smoothing)
        self._dirty |= set(self.series)
        self.redraw(everything=True)

    def set_log(self, x: bool, y: bool) -> None:
        for name, plot in self.plots.items():
            plot.setLogMode(x=x, y=y or name in self.always_log_y)

    def mark(self, step: float, text: str) -> None:
        """A labelled vertical line on every plot (a mid-run setting change)."""
        for plot in self.plots.values():
            line = pg.InfiniteLine(pos=step, angle=90, pen=pg.mkPen(120, 120, 120, style=Qt.PenStyle.DashLine),
                                   label=text, labelOpts={"position": 0.12, "color": (80, 80, 80)})
            plot.addItem(line)
            self.markers.append(line)

    def add_overlay(self, plot: str, name: str, x: np.ndarray, y: np.ndarray) -> None:
        """A finished run's curve drawn dashed for comparison (not smoothed)."""
        colour = COLOURS[(len(self.series) + 3) % len(COLOURS)]
        self.plots[plot].plot(x, y, pen=pg.mkPen(colour, width=1.2, style=Qt.PenStyle.DashLine), name=name)

    def reset(self) -> None:
        """Forget every curve and marker."""
        for plot in self.plots.values():
            plot.clear()
        self.series.clear()
        self.items.clear()
        self.markers.clear()
        self._dirty.clear()
