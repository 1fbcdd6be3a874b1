"""The Density lab's Costs page: measured curves as the dimension D grows, on random flows.

- "What the triangle buys": the log-determinant as the sum of log-scales (O(D)) against slogdet of the
  autograd Jacobian (O(D^3) for the determinant, after D backward passes for the matrix).
- "Which direction is fast": MAF and IAF of the same size, time per density evaluation and per sample.

The measuring is the engine's (:mod:`engine.evaluation.flow_costs`), run on the main worker.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QWidget

from app.widgets.axes import room_for_top_label
from app.worker import Job

PENS = {"sum of log-scales": ((31, 119, 180), "o"), "slogdet of the Jacobian": ((214, 39, 40), "s"),
        "MAF density": ((31, 119, 180), "o"), "MAF sample": ((31, 119, 180), "t"),
        "IAF density": ((255, 127, 14), "o"), "IAF sample": ((255, 127, 14), "t")}


def cost_plot(title: str, names: list[str]) -> tuple[pg.PlotWidget, dict[str, pg.PlotDataItem]]:
    """A log-log plot of seconds against D with one named curve per ``names``."""
    plot = pg.PlotWidget(background="w", title=title)
    plot.setLogMode(True, True)
    plot.setLabel("bottom", "dimension D")
    plot.setLabel("left", "seconds per point")
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


class CostsPage(QWidget):
    """Two measured plots side by side, each with its Measure button, and a sentence on what they show."""

    def __init__(self, context) -> None:
        super().__init__()
        self.context = context
        self.jobs: dict[str, Job] = {}
        grid = QGridLayout(self)
        self.logdet_plot, self.logdet_curves = cost_plot("log|det|: O(D) against O(D³)", list(PENS)[:2])
        self.direction_plot, self.direction_curves = cost_plot("Which direction is fast", list(PENS)[2:])
        self.logdet_button = QPushButton("Measure log-det cost (D = 2 … 1,024)")
        self.logdet_button.clicked.connect(self.measure_logdet)
        self.direction_button = QPushButton("Measure MAF vs IAF (D = 2 … 256)")
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
        raise NotImplementedError

    def measure_directions(self) -> None:
        raise NotImplementedError

    def show_curves(self, curves: dict[str, pg.PlotDataItem], dims: np.ndarray, seconds: dict[str, np.ndarray]
                    ) -> None:
        for name, values in seconds.items():
            curves[name].setData(np.asarray(dims, float), np.asarray(values, float))

    def stop(self) -> None:
        for job in self.jobs.values():
            job.cancel()
        self.jobs.clear()
