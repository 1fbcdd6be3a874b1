"""The Density lab's views: the density canvas (heatmap, mass contours, samples, warped grid, the data) and
the Jacobian X-ray heatmap.

Plot items are created once and updated in place.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from app.widgets.point_canvas import PointCanvas

CONTOUR_PENS = [pg.mkPen((255, 255, 255), width=w) for w in (2.2, 1.6, 1.1)]  # 50 %, 80 %, 95 % of the mass


class DensityView(PointCanvas):
    """A :class:`PointCanvas` over a density: ``show_stage`` draws one stage of a snapshot."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.heat = pg.ImageItem()
        self.heat.setColorMap(pg.colormap.get("CET-L4"))  # black-red-yellow: the density, 0 = black
        self.heat.setZValue(-20)
        self.plot_item.addItem(self.heat)
        self.contours = [pg.IsocurveItem(pen=pen) for pen in CONTOUR_PENS]
        for curve in self.contours:
            curve.setParentItem(self.heat)  # contours live in the heatmap's pixel coordinates
        self.grid = pg.PlotCurveItem(pen=pg.mkPen((120, 200, 255, 170), width=1), connect="finite")
        self.plot_item.addItem(self.grid)
        self.samples.setPen(pg.mkPen(90, 220, 255))
        self.samples.setSize(5)
        self.cloud.alpha = 0.6
        self.marker = pg.ScatterPlotItem(size=14, symbol="o", pen=pg.mkPen((0, 255, 120), width=2.5), brush=None)
        self.plot_item.addItem(self.marker)
        self.layers = {"density": [self.heat], "contours": self.contours, "samples": [self.samples],
                       "grid": [self.grid], "data": [self.cloud]}

    def clear_density(self) -> None:
        """No fit: the data alone (grey on white)."""
        self.heat.clear()
        for curve in self.contours:
            curve.setData(None)
        self.grid.setData([], [])
        self.show_samples(None)
        self.marker.setData([], [])
        self.setBackground("w")
        self.cloud.set_colours(np.array([90, 90, 90], np.float32))

    def show_stage(self, snap, stage: int) -> None:
        """Stage ``stage`` (0 = Gaussian base ... K = data) of a lab Snapshot."""
        density = snap.density[stage].T  # (x, y) for pyqtgraph
        x0, x1, y0, y1 = snap.extent
        self.heat.setImage(density, autoLevels=False, levels=(0.0, float(density.max()) or 1.0))
        self.heat.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        for curve, level in zip(self.contours, snap.levels[stage]):
            curve.setData(density)
            curve.setLevel(float(level))
        lines = snap.grid[stage]
        breaks = np.full((len(lines), 1, 2), np.nan)
        path = np.concatenate([lines, breaks], axis=1).reshape(-1, 2)
        self.grid.setData(path[:, 0], path[:, 1])
        self.show_samples(snap.samples[stage])
        if self.backgroundBrush().color().value() != 0:  # the first stage shown: light points on black
            self.setBackground("k")
            self.cloud.set_colours(np.array([235, 235, 235], np.float32))

    def mark(self, point: tuple[float, float] | None) -> None:
        """The X-rayed point as a ring (None: none)."""
        self.marker.setData([] if point is None else [point[0]], [] if point is None else [point[1]])

    def set_layer_visible(self, name: str, visible: bool) -> None:
        """Show or hide one overlay: density, contours, samples, grid, data."""
        for item in self.layers[name]:
            item.setVisible(visible)


class JacobianView(pg.PlotWidget):
    """A D x D matrix as a heatmap (blue negative, white zero, red positive) with its values written in the
    cells; exact zeros read "0". Rows and columns are labelled with the dimensions in the shown order."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        self.plot_item = self.getPlotItem()
        self.plot_item.setMenuEnabled(False)
        self.view = self.plot_item.getViewBox()
        self.view.setMouseEnabled(False, False)
        self.view.invertY(True)  # row 0 at the top, as a matrix is written
        self.view.setAspectLocked(True)
        self.image = pg.ImageItem()
        self.image.setColorMap(pg.colormap.get("CET-D1"))
        self.plot_item.addItem(self.image)
        self.texts: list[pg.TextItem] = []
        self.plot_item.setLabel("left", "output z (row)")
        self.plot_item.setLabel("bottom", "input x (column)")

    def show_matrix(self, matrix: np.ndarray | None, names: list[str]) -> None:
        """matrix (D, D) or None; ``names`` (D,) label rows and columns in the shown order."""
        for text in self.texts:
            self.plot_item.removeItem(text)
        self.texts = []
        if matrix is None:
            self.image.clear()
            return
        d = len(matrix)
        bound = float(np.abs(matrix).max()) or 1.0
        self.image.setImage(matrix.T, autoLevels=False, levels=(-bound, bound))
        self.image.setRect(QRectF(0, 0, d, d))
        ticks = [[(i + 0.5, name) for i, name in enumerate(names)]]
        self.plot_item.getAxis("bottom").setTicks(ticks)
        self.plot_item.getAxis("left").setTicks(ticks)
        if d <= 8:  # the numbers fit in the cells
            for (i, j), value in np.ndenumerate(matrix):
                text = pg.TextItem("0" if value == 0 else f"{value:.3g}", color=(0, 0, 0), anchor=(0.5, 0.5))
                text.setPos(j + 0.5, i + 0.5)
                self.plot_item.addItem(text)
                self.texts.append(text)
        self.view.setRange(xRange=(0, d), yRange=(0, d), padding=0.02)
