"""Live training curves: append points cheaply, redraw at most 5 times a second.

Every point is kept (numpy arrays that grow by doubling); pyqtgraph's peak
downsampling and clip-to-view keep long runs fast without hiding spikes.
EMA smoothing, log-x and log-y apply to all plots.

The panel sets each plot's view range itself instead of pyqtgraph's auto
range: a range that changes at every redraw rebuilds the axes' ticks and
repaints them, about 4 ms of the GUI thread per redraw against about 1 ms
for the curves alone (measured for bench/training.py). A fitted range holds
while the data stay inside it and fill at least half of it; the x range
leaves room for the run to grow (:func:`sticky_range`). Dragging or zooming a
plot hands its range to the user; the plot's "A" button gives it back.
Lines are 1 px wide: wider pens take Qt's stroker, 3x slower to draw.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGridLayout, QWidget

from app.widgets.axes import no_si_prefix

def sticky_range(current: tuple[float, float] | None, lo: float, hi: float, below: float,
                 above: float) -> tuple[float, float]:
    """A view interval for data spanning [lo, hi]: ``current`` while it holds the data and the data fill at
    least half of it, else [lo, hi] widened by ``below`` and ``above`` times the data's span (a zero span counts
    as a tenth of |lo|, or 1)."""
    span = hi - lo
    if current is not None and current[0] <= lo and hi <= current[1] and span >= 0.5 * (current[1] - current[0]):
        return current
    span = span or (0.1 * abs(lo) or 1.0)
    return lo - below * span, hi + above * span


def data_bounds(curves: list[tuple[np.ndarray, np.ndarray]], log_x: bool, log_y: bool):
    """((x lo, x hi), (y lo, y hi)) of (x (n,), y (n,)) curves in view coordinates (log10 where an axis is
    logarithmic, non-positive values left out), or None when no finite point is left."""
    xs, ys = [], []
    for x, y in curves:
        x, y = (np.log10(v, where=v > 0, out=np.full(len(v), np.nan)) if log else v
                for v, log in ((x, log_x), (y, log_y)))
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.any():
            xs += [x[ok].min(), x[ok].max()]
            ys += [y[ok].min(), y[ok].max()]
    if not xs:
        return None
    return (min(xs), max(xs)), (min(ys), max(ys))


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
    curves that changed, one plot per tick, and fits that plot's view range
    (module docstring). Curves whose name starts with "val" are drawn with
    symbols (they arrive once per epoch).
    """

    def __init__(self, plots: list[str], columns: int = 2, unsmoothed: set[str] = frozenset(),
                 log_y: set[str] = frozenset(), zero_based: set[str] = frozenset(), parent=None) -> None:
        super().__init__(parent)
        self.zero_based = set(zero_based)  # plots whose y axis starts at 0 (the learning rate)
        self.unsmoothed = set(unsmoothed)  # plots drawn raw (e.g. the learning rate schedule)
        self.always_log_y = set(log_y)  # plots whose values span decades (the learning rate)
        self.smoothing = 0.0
        self.plots: dict[str, pg.PlotItem] = {}
        self.series: dict[tuple[str, str], Series] = {}
        self.items: dict[tuple[str, str], pg.PlotDataItem] = {}
        self.overlays: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {name: [] for name in plots}
        self.markers: list[pg.InfiniteLine] = []
        self.ranges: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {}  # plot -> its fitted range
        self.managed = set(plots)  # plots whose range the panel sets (not dragged or zoomed by the user)
        self.steps = 0  # the run's length when known (set_steps): the x range is then fixed to it
        self._dirty: set[tuple[str, str]] = set()
        self._turn = -1
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(2)
        for i, name in enumerate(plots):
            # One view per plot: a plot's repaint (or its axis relayout) never repaints the others.
            widget = pg.PlotWidget(background="w", title=name)
            grid.addWidget(widget, i // columns, i % columns)
            self.plots[name] = self._set_up(widget.getPlotItem(), name)
        self.timer = QTimer(self)
        self.timer.setInterval(200)  # curves need not move faster; the training thread keeps the CPU
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    def _set_up(self, plot: pg.PlotItem, name: str) -> pg.PlotItem:
        plot.getAxis("left").setWidth(52)
        no_si_prefix(plot.getAxis("left"))
        # No grid: grid lines belong to the axes, so every data redraw would repaint them. No legend either: it
        # would cover the curves; the title names them in their colours (_retitle).
        self._retitle(plot, name)
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        if name in self.always_log_y:
            plot.setLogMode(y=True)
        plot.disableAutoRange()
        plot.getViewBox().sigRangeChangedManually.connect(lambda _mask, n=name: self.managed.discard(n))
        return plot

    def add_point(self, plot: str, curve: str, step: float, value: float) -> None:
        key = (plot, curve)
        if key not in self.series:
            self._new_curve(key)
        if np.isfinite(value):
            self.series[key].append(step, value)
            self._dirty.add(key)

    def prepare(self, keys) -> None:
        """Build the items of the (plot, curve) ``keys`` a run will feed, before it starts (about 2 ms each of
        the GUI thread, better spent before the training thread runs than during its first steps)."""
        for key in map(tuple, keys):
            if key not in self.series:
                self._new_curve(key)

    def _new_curve(self, key: tuple[str, str]) -> None:
        plot = self.plots[key[0]]
        twin = (key[0], key[1][4:]) if key[1].startswith("val ") else None
        if twin in self.items:  # a validation curve: its training curve's colour, drawn as dots
            colour = self.items[twin].opts["pen"].color().getRgb()[:3]
        else:
            colour = COLOURS[sum(1 for k in self.items if k[0] == key[0] and not self._has_twin(k)) % len(COLOURS)]
        symbol = "o" if key[1].startswith("val") else None
        self.items[key] = plot.plot(pen=pg.mkPen(colour, width=1), name=key[1], symbol=symbol, symbolSize=5,
                                    symbolBrush=colour)
        self.series[key] = Series(self.smoothing)
        self._retitle(plot, key[0])

    def _has_twin(self, key: tuple[str, str]) -> bool:
        """True for a "val x" curve drawn beside its training curve "x" (same colour, dots)."""
        return key[1].startswith("val ") and (key[0], key[1][4:]) in self.items

    def _retitle(self, plot: pg.PlotItem, name: str) -> None:
        """The plot's name, and under it its curves' names in their own colours (the legend, off the data);
        validation curves share their training curve's colour and are named once, as dots."""
        named = [(curve, item) for (p, curve), item in self.items.items() if p == name and not self._has_twin((p, curve))]
        named += [(f"- - {item.opts['name']}", item) for item in plot.listDataItems()
                  if item.opts.get("name") and item not in self.items.values()]  # overlays of finished runs
        keys = [f"<span style='color:#{r:02x}{g:02x}{b:02x}'>{curve}</span>"
                for curve, item in named for r, g, b, _ in [item.opts["pen"].color().getRgb()]]
        if any(p == name and self._has_twin((p, c)) for p, c in self.items):
            keys.append("<span style='color:#707070'>● validation</span>")
        plot.setTitle(f"<span style='font-size:9pt'>{name}</span><br>"
                      f"<span style='font-size:8pt'>{' · '.join(keys) or '&nbsp;'}</span>")

    def shown(self, key: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
        """The (x (n,), y (n,)) a curve draws: raw for "val" curves and unsmoothed plots, else smoothed."""
        s = self.series[key]
        raw = key[1].startswith("val") or key[0] in self.unsmoothed
        return s.x, s.y if raw else s.smoothed

    def redraw(self, everything: bool = False) -> None:
        """Push changed series to their plot items; called by the timer.

        One plot per tick, round robin: repainting a plot costs a few ms in
        software rendering, so updating all of them at once would stall the
        GUI thread and steal the core training runs on.
        """
        plots = [name for name in self.plots if any(k[0] == name for k in self._dirty)]
        if not plots:
            return
        order = list(self.plots)
        chosen = plots if everything else [min(plots, key=lambda n: (order.index(n) - self._turn - 1) % len(order))]
        for name in chosen:
            for key in [k for k in self._dirty if k[0] == name]:
                self.items[key].setData(*self.shown(key))
                self._dirty.discard(key)
            self.fit(name)
            self._turn = order.index(name)

    def fit(self, name: str) -> None:
        """Fit plot ``name``'s view range to its curves and overlays (:func:`sticky_range`) unless the user
        owns it; its "A" button (pyqtgraph's auto range, also switched on by a log toggle) hands it back."""
        plot = self.plots[name]
        view = plot.getViewBox()
        if any(view.autoRangeEnabled()):
            view.disableAutoRange()
            self.managed.add(name)
            self.ranges.pop(name, None)
        if name not in self.managed:
            return
        curves = [self.shown(k) for k in self.series if k[0] == name] + self.overlays[name]
        bounds = data_bounds(curves, plot.ctrl.logXCheck.isChecked(), plot.ctrl.logYCheck.isChecked())
        if bounds is None:
            return
        old = self.ranges.get(name, (None, None))
        (x_lo, x_hi), y = bounds
        whole_run = self.steps and not plot.ctrl.logXCheck.isChecked() and 0 <= x_lo and x_hi <= self.steps
        x = (0.0, float(self.steps)) if whole_run else sticky_range(old[0], x_lo, x_hi, 0.02, 0.5)
        if name in self.zero_based and not plot.ctrl.logYCheck.isChecked():
            y = (min(0.0, y[0]), y[1])  # a flat schedule still gets readable ticks: 0 .. its value
        new = x, sticky_range(old[1], *y, 0.0 if name in self.zero_based else 0.15, 0.15)
        if new != old:
            self.ranges[name] = new
            view.setRange(xRange=new[0], yRange=new[1], padding=0)

    def set_steps(self, total: int) -> None:
        """The run's length in steps: fitted x ranges span the whole run, so they stay put while it trains."""
        self.steps = int(total)
        self.ranges.clear()

    def set_smoothing(self, alpha: float) -> None:
        self.smoothing = float(alpha)
        for series in self.series.values():
            series.set_alpha(self.smoothing)
        self._dirty |= set(self.series)
        self.redraw(everything=True)

    def set_log(self, x: bool, y: bool) -> None:
        for name, plot in self.plots.items():
            plot.setLogMode(x=x, y=y or name in self.always_log_y)
            self.fit(name)

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
        self.plots[plot].plot(x, y, pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine), name=name)
        self.overlays[plot].append((np.asarray(x, float), np.asarray(y, float)))
        self._retitle(self.plots[plot], plot)
        self.fit(plot)

    def reset(self) -> None:
        """Forget every curve, overlay and marker; the panel fits every plot again."""
        for plot in self.plots.values():
            plot.clear()
        for overlays in self.overlays.values():
            overlays.clear()
        self.series.clear()
        self.items.clear()
        self.markers.clear()
        self._dirty.clear()
        self.ranges.clear()
        self.managed = set(self.plots)
        self.steps = 0
        for name, plot in self.plots.items():
            self._retitle(plot, name)
