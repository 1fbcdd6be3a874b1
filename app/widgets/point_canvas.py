"""A 2-D point canvas shared by the GMM fitter and the Density lab: the data as a fast point cloud, sampled
points as crosses, and the mouse: in drawing mode a click adds a point and a drag sprays a few
(``canvas_clicked``); otherwise a left click reports where it fell (``point_clicked``).

Plot items are created once and updated in place (setData / set_colours).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from app.widgets.point_cloud import PointCloudItem


class PointCanvas(pg.PlotWidget):
    """Scatter of the data (grey until coloured) and of samples.

    Signals: ``canvas_clicked(x, y, dragging)`` in drawing mode (``drawing`` True);
    ``point_clicked(x, y)`` for a left click otherwise. Coordinates are the data's.
    """

    canvas_clicked = Signal(float, float, bool)
    point_clicked = Signal(float, float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        self.plot_item = self.getPlotItem()
        # No grid: grid lines belong to the axes, so every frame would repaint them.
        self.view = self.plot_item.getViewBox()
        self.cloud = PointCloudItem(self.view)
        self.samples = pg.ScatterPlotItem(size=7, symbol="x", pen=pg.mkPen(20, 20, 20), brush=None)
        self.plot_item.addItem(self.samples)
        self.drawing = False
        self.scene().sigMouseClicked.connect(self._on_click)

    def set_points(self, points: np.ndarray, lock_range: bool = True) -> None:
        """points: (N, 2) shown in grey; with ``lock_range`` the view frames them (8 % margin)."""
        self.cloud.set_points(points)
        self.samples.setData([], [])
        if lock_range and len(points):
            lo, hi = points.min(axis=0), points.max(axis=0)
            pad = 0.08 * np.maximum(hi - lo, 1e-6)
            self.view.setRange(xRange=(lo[0] - pad[0], hi[0] + pad[0]), yRange=(lo[1] - pad[1], hi[1] + pad[1]))

    def set_axis_names(self, x: str, y: str) -> None:
        self.plot_item.setLabel("bottom", x)
        self.plot_item.setLabel("left", y)

    def show_samples(self, points: np.ndarray | None) -> None:
        """points: (M, 2) drawn as crosses; None or empty hides them."""
        if points is None or len(points) == 0:
            self.samples.setData([], [])
        else:
            self.samples.setData(points[:, 0], points[:, 1])

    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        point = self.view.mapSceneToView(event.scenePos())
        if self.drawing:
            self.canvas_clicked.emit(float(point.x()), float(point.y()), False)
        else:
            self.point_clicked.emit(float(point.x()), float(point.y()))

    def mouseMoveEvent(self, event) -> None:
        if self.drawing and event.buttons() & Qt.MouseButton.LeftButton:
            point = self.view.mapSceneToView(self.mapToScene(event.position().toPoint()))
            self.canvas_clicked.emit(float(point.x()), float(point.y()), True)
            event.accept()
            return
        super().mouseMoveEvent(event)


def with_drawn_point(points: np.ndarray, x: float, y: float, dragging: bool, canvas: PointCanvas) -> np.ndarray:
    """``points`` (N, 2) plus what the user drew at (x, y): one point for a click, three sprayed around it
    for a drag (spread 1.5 % of the canvas's visible extent). Returns (N + 1 or N + 3, 2)."""
    view = canvas.view.viewRect()
    spread = 0.015 * max(view.width(), view.height())
    new = np.array([[x, y]]) if not dragging else np.array([x, y]) + np.random.default_rng().normal(0, spread, (3, 2))
    return np.concatenate([np.asarray(points, np.float64).reshape(-1, 2), new])
