"""A 2-D view of a Gaussian mixture: points coloured by responsibility,
component means (draggable) and 1σ/2σ ellipses, plus sampled points.

Plot items are created once and updated in place (setData / set_colours).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal

from app.widgets.ellipses import many_ellipses
from app.widgets.point_canvas import PointCanvas
from app.widgets.point_cloud import mix_colours, palette


class MixtureView(PointCanvas):
    """Scatter + mixture overlay.

    Signals: ``mean_dragged(k, x, y)`` when the user drops component k's
    mean somewhere; ``canvas_clicked(x, y, dragging)`` for drawing points
    (from :class:`PointCanvas`).
    """

    mean_dragged = Signal(int, float, float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._curves: list[tuple[pg.PlotCurveItem, pg.PlotCurveItem]] = []
        self._targets: list[pg.TargetItem] = []
        self.colours = palette(1)

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

    # ------------------------------------------------------------ input
    def _on_target_moved(self, k: int, target: pg.TargetItem) -> None:
        pos = target.pos()
        self.mean_dragged.emit(k, float(pos.x()), float(pos.y()))
