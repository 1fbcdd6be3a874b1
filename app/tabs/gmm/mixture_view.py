"""A 2-D view of a Gaussian mixture: points coloured by responsibility,
component means (draggable) and 1σ/2σ ellipses, plus sampled points.

Plot items are created once and updated in place (setData / set_colours).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal

from app.widgets.ellipses import many_ellipses
from app.widgets.point_cloud import PointCloudItem, mix_colours, palette


class MixtureView(pg.PlotWidget):
    """Scatter + mixture overlay.

    Signals: ``mean_dragged(k, x, y)`` when the user drops component k's
    mean somewhere; ``canvas_clicked(x, y, dragging)`` for drawing points.
    """

    mean_dragged = Signal(int, float, float)
    canvas_clicked = Signal(float, float, bool)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        self.plot_item = self.getPlotItem()
        # No grid: grid lines belong to the axes, so every frame would repaint them.
        self.view = self.plot_item.getViewBox()
        self.cloud = PointCloudItem(self.view)
        self.samples = pg.ScatterPlotItem(size=7, symbol="x", pen=pg.mkPen(20, 20, 20), brush=None)
        self.plot_item.addItem(self.samples)
        self._curves: list[tuple[pg.PlotCurveItem, pg.PlotCurveItem]] = []
        self._targets: list[pg.TargetItem] = []
        self.colours = palette(1)
        self.drawing = False
        self.scene().sigMouseClicked.connect(self._on_click)

    # ------------------------------------------------------------- data
    def set_points(self, points: np.ndarray, lock_range: bool = True) -> None:
        """points: (N, 2) shown in grey until responsibilities arrive."""
        self.cloud.set_points(points)
        self.samples.setData([], [])
        if lock_range and len(points):
            lo, hi = points.min(axis=0), points.max(axis=0)
            pad = 0.08 * np.maximum(hi - lo, 1e-6)
            self.view.setRange(xRange=(lo[0] - pad[0], hi[0] + pad[0]), yRange=(lo[1] - pad[1], hi[1] + pad[1]))

    def set_components(self, k: int) -> None:
        """Create the ellipse curves and mean handles for ``k`` components."""
        for one, two in self._curves:
            self.plot_item.removeItem(one)
            self.plot_item.removeItem(two)
        for target in self._targets:
            self.plot_item.removeItem(target)
        self.colours = palette(k)
        self._curves, self._targets = [], []
        for i, rgb in enumerate(self.colours):
            colour = tuple(int(c) for c in rgb)
            one = pg.PlotCurveItem(pen=pg.mkPen(colour, width=2.5), connect="finite")
            two = pg.PlotCurveItem(pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine), connect="finite")
            target = pg.TargetItem(pos=(0, 0), size=13, movable=True, pen=pg.mkPen("k", width=1.5),
                                   brush=pg.mkBrush(*colour), hoverBrush=pg.mkBrush(*colour, 160))
            target.setToolTip(f"Component {i + 1}: drag to restart EM from here")
            target.sigPositionChangeFinished.connect(lambda t, i=i: self._on_target_moved(i, t))
            for item in (one, two, target):
                self.plot_item.addItem(item)
                item.setVisible(False)
            self._curves.append((one, two))
            self._targets.append(target)

    def show_responsibilities(self, resp: np.ndarray | None) -> None:
        """resp: (N, K) rows summing to 1 -> soft colour mix; None -> grey."""
        if resp is None:
            self.cloud.set_colours(np.array([110, 110, 110], np.float32))
        else:
            self.cloud.set_colours(mix_colours(resp, self.colours[: resp.shape[1]]))

    def show_components(self, means: np.ndarray, covs: np.ndarray) -> None:
        """means: (K, 2); covs: (K, 2, 2) full covariances."""
        for k, ((one, two), target) in enumerate(zip(self._curves, self._targets)):
            if k >= len(means):
                for item in (one, two, target):
                    item.setVisible(False)
                continue
            e1 = many_ellipses(means[k : k + 1], covs[k : k + 1], 1.0)
            e2 = many_ellipses(means[k : k + 1], covs[k : k + 1], 2.0)
            one.setData(e1[:, 0], e1[:, 1])
            two.setData(e2[:, 0], e2[:, 1])
            if not target.moving:
                target.blockSignals(True)
                target.setPos(QPointF(float(means[k, 0]), float(means[k, 1])))
                target.blockSignals(False)
            for item in (one, two, target):
                item.setVisible(True)

    def hide_components(self) -> None:
        for (one, two), target in zip(self._curves, self._targets):
            for item in (one, two, target):
                item.setVisible(False)

    def show_samples(self, points: np.ndarray | None) -> None:
        if points is None or len(points) == 0:
            self.samples.setData([], [])
        else:
            self.samples.setData(points[:, 0], points[:, 1])

    # ------------------------------------------------------------ input
    def _on_target_moved(self, k: int, target: pg.TargetItem) -> None:
        pos = target.pos()
        self.mean_dragged.emit(k, float(pos.x()), float(pos.y()))

    def _on_click(self, event) -> None:
        if not self.drawing or event.button() != Qt.MouseButton.LeftButton:
            return
        point = self.view.mapSceneToView(event.scenePos())
        self.canvas_clicked.emit(float(point.x()), float(point.y()), False)

    def mouseMoveEvent(self, event) -> None:
        if self.drawing and event.buttons() & Qt.MouseButton.LeftButton:
            point = self.view.mapSceneToView(self.mapToScene(event.position().toPoint()))
            self.canvas_clicked.emit(float(point.x()), float(point.y()), True)
            event.accept()
            return
        super().mouseMoveEvent(event)
