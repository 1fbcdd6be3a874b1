"""The Density lab's Costs page: measured curves as the dimension D grows, on random flows.

- "What the triangle buys": the log-determinant as the sum of log-scales (O(D)) against slogdet of the
  autograd Jacobian (O(D^3) for the determinant, after D backward passes for the matrix).
- "Which direction is fast": MAF and IAF of the same size, time per density evaluation and per sample.

The measuring is the engine's (:mod:`engine.evaluation.flow_costs`), run on the main worker.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pyqtgraph as pg
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QWidget

from app.widgets.axes import room_for_top_label
from app.worker import Job
from engine.evaluation.flow_costs import COST_DIMS, direction_costs, logdet_costs

DIRECTION_DIMS = (2, 4, 8, 16, 32, 64, 128, 256)
N_POINTS = 100  # points per density evaluation and per sample batch

PENS = {"sum of log-scales": ((31, 119, 180), "o"), "slogdet of the Jacobian": ((214, 39, 40), "s"),
        "MAF density": ((31, 119, 180), "o"), "MAF sample": ((31, 119, 180), "t"),
        "IAF density": ((255, 127, 14), "o"), "IAF sample": ((255, 127, 14), "t")}


def cost_plot(title: str, names: list[str], dims) -> tuple[pg.PlotWidget, dict[str, pg.PlotDataItem]]:
    """A log-log plot of milliseconds against D (ticked at ``dims``) with one named curve per ``names``."""
    plot = pg.PlotWidget(background="w", title=title)
    plot.setLogMode(True, True)
    plot.getAxis("bottom").setTicks([[(math.log10(d), f"{d:,}") for d in dims], []])
    plot.setLabel("bottom", "dimension D")
    plot.setLabel("left", "milliseconds")
    plot.showGrid(x=True, y=True, alpha=0.25)
    room_for_top_label(plot)
    plot.addLegend(offset=(8, 8))
    curves = {}
    for name in names:
        colour, symbol = PENS[name]
        style = pg.QtCore.Qt.PenStyle.DashLine if "sample" in name else pg.QtCore.Qt.PenStyle.SolidLine
        curves[name] = plot.plot(pen=pg.mkPen(colour, width=2, style=style), symbol=symbol, symbolSize=6,
                                 symbolBrush=colour, name=name)
    return plot, curves


def per_dim(measure, dims) -> Iterator[dict]:
    """One measured row per dimension, as a generator (the worker checks for Stop between dimensions)."""
    for dim in dims:
        yield from measure(dim)


class CostsPage(QWidget):
    """Two measured plots side by side, each with its Measure button, and a sentence on what they show."""

    def __init__(self, context) -> None:
        super().__init__()
        self.context = context
        self.jobs: dict[str, Job] = {}
        grid = QGridLayout(self)
        self.logdet_plot, self.logdet_curves = cost_plot("log|det|: O(D) against O(D³)", list(PENS)[:2], COST_DIMS)
        self.direction_plot, self.direction_curves = cost_plot("Which direction is fast", list(PENS)[2:],
                                                                DIRECTION_DIMS)
        self.logdet_button = QPushButton(f"Measure (D = 2 … {COST_DIMS[-1]:,})")
        self.logdet_button.clicked.connect(self.measure_logdet)
        self.direction_button = QPushButton(f"Measure (D = 2 … {DIRECTION_DIMS[-1]})")
        self.direction_button.clicked.connect(self.measure_directions)
        self.logdet_note, self.direction_note = QLabel(), QLabel()
        for note in (self.logdet_note, self.direction_note):
            note.setWordWrap(True)
        for col, (plot, button, note) in enumerate(((self.logdet_plot, self.logdet_button, self.logdet_note),
                                                    (self.direction_plot, self.direction_button,
                                                     self.direction_note))):
            grid.addWidget(button, 0, col)
            grid.addWidget(plot, 1, col)
            grid.addWidget(note, 2, col)
        grid.setRowStretch(1, 1)

    def measure_logdet(self) -> None:
        """Measure the two log-determinants for D = 2 … 1,024 (a curve point per D as it comes)."""
        self._measure("logdet", self.logdet_button, self.logdet_curves, self.logdet_note,
                      lambda: per_dim(lambda d: logdet_costs([d]), COST_DIMS), self._logdet_row)

    def measure_directions(self) -> None:
        """Measure MAF and IAF, density and sampling, for D = 2 … 256."""
        self._measure("directions", self.direction_button, self.direction_curves, self.direction_note,
                      lambda: per_dim(lambda d: direction_costs([d], n=N_POINTS), DIRECTION_DIMS),
                      self._direction_row)

    def _measure(self, key, button, curves, note, factory, on_row) -> None:
        rows: list[dict] = []
        for curve in curves.values():
            curve.setData([], [])
        button.setEnabled(False)
        note.setText("Measuring on one thread…")

        def event(e: object) -> None:
            if isinstance(e, dict):
                rows.append(e)
                on_row(rows)

        def finished(job: Job) -> None:
            button.setEnabled(True)
            if self.jobs.get(key) is job:
                del self.jobs[key]

        self.jobs[key] = self.context.worker.submit(
            factory, name=f"Measuring {key}", key=f"density-{key}", cancel_running=True, on_event=event,
            on_finished=finished, on_error=lambda e: note.setText(e.text()))

    def _logdet_row(self, rows: list[dict]) -> None:
        dims = [r["dim"] for r in rows]
        self.logdet_curves["sum of log-scales"].setData(dims, [r["sum_ms"] for r in rows])
        self.logdet_curves["slogdet of the Jacobian"].setData(dims, [r["slogdet_ms"] for r in rows])
        last = rows[-1]
        self.logdet_note.setText(f"D = {last['dim']:,}: slogdet takes {last['speedup']:.0f}× as long as the sum "
                                 f"of log-scales; they differ by {last['difference']:.1e} nats.")

    def _direction_row(self, rows: list[dict]) -> None:
        dims = [r["dim"] for r in rows]
        for name, curve in self.direction_curves.items():
            curve.setData(dims, [r[name.lower().replace(" ", "_") + "_ms"] for r in rows])
        last = rows[-1]
        self.direction_note.setText(
            f"D = {last['dim']}, {N_POINTS} points: MAF density {last['maf_density_ms']:.2f} ms, sample "
            f"{last['maf_sample_ms']:.2f} ms; IAF density {last['iaf_density_ms']:.2f} ms, sample "
            f"{last['iaf_sample_ms']:.2f} ms.")

    def stop(self) -> None:
        for job in self.jobs.values():
            job.cancel()
        self.jobs.clear()
