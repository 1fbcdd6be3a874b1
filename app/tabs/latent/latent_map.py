"""The latent plane: encoded digits, cursor, pins, overlays and the manifold grid.

Plot items are created once; the tab updates them in place.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal

from app.widgets.ellipses import many_ellipses
from app.widgets.point_cloud import PointCloudItem, palette

MAX_PINS = 8



def _fog_lut() -> np.ndarray:
    """(256, 4) RGBA: grey fog where the encoded data are sparse, clear where dense."""
    d = np.linspace(0.0, 1.0, 256)
    lut = np.zeros((256, 4), np.uint8)
    lut[:, :3] = (70, 70, 90)
    lut[:, 3] = (180 * np.clip(1.0 - d / 0.25, 0.0, 1.0) ** 1.5).astype(np.uint8)
    return lut


DENSITY_LUT = _fog_lut()


class ScrubViewBox(pg.ViewBox):
    """Left-drag scrubs (the decode follows the cursor) instead of panning;
    Shift+left-drag or middle-drag pans, the wheel zooms."""

    def mouseDragEvent(self, ev, axis=None) -> None:
        shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if ev.button() == Qt.MouseButton.LeftButton and not shift:
            ev.accept()  # consumed: no pan; sigMouseMoved still drives the decode
            return
        super().mouseDragEvent(ev, axis)


class MarkerItem(pg.ScatterPlotItem):
    """A scatter that only shows: it never takes a click or hover, so a click on a marker (the
    cursor's "+" is always under the pointer) reaches the map and pins or inspects."""

    def mouseClickEvent(self, ev) -> None:
        ev.ignore()

    def hoverEvent(self, ev) -> None:
        return None


class LatentMapView(pg.PlotWidget):
    """Signals: ``hovered(x, y)``, ``clicked(x, y, modifiers)``, ``pin_moved(i, x, y)``."""

    hovered = Signal(float, float)
    clicked = Signal(float, float, object)
    pin_moved = Signal(int, float, float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w", viewBox=ScrubViewBox())
        self.setToolTip("Move or drag to decode; click to pin; Ctrl+click to inspect a digit; "
                        "Shift+drag or middle-drag to pan; wheel to zoom")
        self.plot_item = self.getPlotItem()
        self.plot_item.setLabel("bottom", "z₁")
        self.plot_item.setLabel("left", "z₂")
        self.view = self.plot_item.getViewBox()
        self.view.setAspectLocked(True)
        self.grid_image = pg.ImageItem()
        self.grid_image.setZValue(-30)
        self.density_image = pg.ImageItem()
        self.density_image.setZValue(-20)
        self.density_image.setLookupTable(DENSITY_LUT)
        for item in (self.grid_image, self.density_image):
            self.view.addItem(item, ignoreBounds=True)
            item.setVisible(False)
        self.cloud = PointCloudItem(self.view, radius=1.8, alpha=0.75)
        self.ellipses = pg.PlotCurveItem(pen=pg.mkPen(60, 60, 60, 90, width=1), connect="finite")
        self.prior_rings = pg.PlotCurveItem(pen=pg.mkPen(30, 30, 200, 200, width=1.5, style=Qt.PenStyle.DashLine),
                                            connect="finite")
        self.path = pg.PlotCurveItem(pen=pg.mkPen(0, 0, 0, width=2))
        self.samples = MarkerItem(size=8, symbol="x", pen=pg.mkPen(0, 0, 0, width=1.5), brush=None)
        self.inspected = pg.PlotCurveItem(pen=pg.mkPen(214, 39, 40, width=2.5), connect="finite")
        self.cursor = MarkerItem(size=14, symbol="+", pen=pg.mkPen(0, 0, 0, width=2), brush=None)
        for item in (self.ellipses, self.prior_rings, self.path, self.samples, self.inspected, self.cursor):
            self.plot_item.addItem(item, ignoreBounds=True)
        self.prior_rings.setVisible(False)
        self.ring_labels = [pg.TextItem(f"{r}σ", color=(30, 30, 200), anchor=(0, 1)) for r in (1, 2, 3)]
        for r, label in zip((1, 2, 3), self.ring_labels):  # on each ring, up and to the right
            label.setPos(r * 0.7071, r * 0.7071)
            label.setVisible(False)
            self.plot_item.addItem(label, ignoreBounds=True)
        self.pins: list[pg.TargetItem] = []
        self.legend = self.plot_item.addLegend(offset=(8, 8), labelTextSize="8pt", brush=pg.mkBrush(255, 255, 255, 200))
        self._legend_items = []
        self.scene().sigMouseMoved.connect(self._on_move)
        # pyqtgraph's scene drops a move that follows the last within 1/60 s: when the mouse stops, the
        # position it stopped at is decoded 30 ms later all the same
        self._last_scene_pos: QPointF | None = None
        self._hovered_at: QPointF | None = None
        self._settle = QTimer(self, singleShot=True, interval=30)
        self._settle.timeout.connect(lambda: self._on_move(self._last_scene_pos))
        self.scene().sigMouseClicked.connect(self._on_click)

    # -------------------------------------------------------------- data
    def set_codes(self, codes: np.ndarray, labels: np.ndarray | None, logvar: np.ndarray | None = None) -> None:
        """codes: (N, 2) latent means; labels: (N,) digits or None; logvar: (N, 2) or None."""
        colours = palette(10)[labels % 10] if labels is not None else np.array([80, 80, 80], np.float32)
        self.cloud.set_points(codes, colours)
        self._set_legend(labels is not None)
        if logvar is not None and len(codes):
            pick = np.random.default_rng(0).choice(len(codes), min(300, len(codes)), replace=False)
            covs = np.stack([np.diag(v) for v in np.exp(logvar[pick])])
            xy = many_ellipses(codes[pick], covs, 1.0, n=32)
            self.ellipses.setData(xy[:, 0], xy[:, 1])
        else:
            self.ellipses.setData([], [])
        if len(codes):
            codes64 = np.asarray(codes, np.float64)
            lo, hi = np.percentile(codes64, 0.5, axis=0), np.percentile(codes64, 99.5, axis=0)
            pad = 0.1 * (hi - lo)
            self.view.setRange(xRange=(float(lo[0] - pad[0]), float(hi[0] + pad[0])),
                               yRange=(float(lo[1] - pad[1]), float(hi[1] + pad[1])))
        else:
            self.view.setRange(xRange=(-3.5, 3.5), yRange=(-3.5, 3.5))

    def _set_legend(self, show: bool) -> None:
        self.legend.clear()
        if not show:
            return
        self._legend_items = []
        for digit, rgb in enumerate(palette(10)):
            item = pg.ScatterPlotItem(symbol="o", size=8, pen=None, brush=pg.mkBrush(*[int(c) for c in rgb]))
            self._legend_items.append(item)
            self.legend.addItem(item, str(digit))

    def show_prior_rings(self, show: bool, contours: np.ndarray | None = None) -> None:
        """Contours of the prior: N(0, I)'s circles at 1, 2 and 3 standard deviations, or ``contours`` (M, 2)
        (NaN rows between lines) of a learned prior, unlabelled."""
        if contours is None:
            contours = np.concatenate([many_ellipses(np.zeros((1, 2)), np.eye(2)[None], r) for r in (1, 2, 3)])
            labelled = show
        else:
            labelled = False
        self.prior_rings.setData(contours[:, 0], contours[:, 1])
        self.prior_rings.setVisible(show)
        for label in self.ring_labels:
            label.setVisible(labelled)

    def show_density(self, density: np.ndarray | None, x_range=None, y_range=None) -> None:
        """density: (S, S) in [0, 1], x index first, over the given rectangle."""
        if density is None:
            self.density_image.setVisible(False)
            return
        self.density_image.setImage(np.sqrt(density), autoLevels=False, levels=(0, 1))
        self.density_image.setRect(x_range[0], y_range[0], x_range[1] - x_range[0], y_range[1] - y_range[0])
        self.density_image.setVisible(True)

    def show_grid(self, mosaic: np.ndarray | None, x_range=None, y_range=None) -> None:
        """mosaic: (n*28, n*28) decodes, row 0 at the top of the rectangle."""
        if mosaic is None:
            self.grid_image.setVisible(False)
            return
        # ImageItem indexes [x, y] with y upward: transpose and flip rows.
        self.grid_image.setImage(1.0 - mosaic[::-1].T, autoLevels=False, levels=(0, 1))
        self.grid_image.setRect(x_range[0], y_range[0], x_range[1] - x_range[0], y_range[1] - y_range[0])
        self.grid_image.setVisible(True)

    def visible_range(self) -> tuple[tuple[float, float], tuple[float, float]]:
        rect = self.view.viewRect()
        return (rect.left(), rect.right()), (rect.top(), rect.bottom())

    # -------------------------------------------------------------- pins
    def add_pin(self, x: float, y: float) -> int | None:
        """Pin a point; returns its index, or None when MAX_PINS are pinned."""
        if len(self.pins) >= MAX_PINS:
            return None
        i = len(self.pins)
        colour = tuple(int(c) for c in palette(MAX_PINS)[i])
        pin = pg.TargetItem(pos=(x, y), size=15, movable=True, symbol="s", pen=pg.mkPen("k", width=1.5),
                            brush=pg.mkBrush(*colour), label=str(i + 1), labelOpts={"color": "k", "offset": (8, -8)})
        pin.setToolTip(f"Pin {i + 1}: drag to move")
        pin.sigPositionChanged.connect(lambda p, i=i: self._emit_pin_moved(i, p))
        self.plot_item.addItem(pin)
        self.pins.append(pin)
        return i

    def _emit_pin_moved(self, i: int, pin: pg.TargetItem) -> None:
        # A slot must return None (PySide6 mis-counts references to returned values).
        self.pin_moved.emit(i, float(pin.pos().x()), float(pin.pos().y()))

    def pin_positions(self) -> np.ndarray:
        return np.array([[p.pos().x(), p.pos().y()] for p in self.pins], np.float32).reshape(-1, 2)

    def clear_pins(self) -> None:
        for pin in self.pins:
            self.plot_item.removeItem(pin)
        self.pins = []
        self.path.setData([], [])

    # ------------------------------------------------------------- input
    def _to_view(self, scene_pos) -> QPointF | None:
        if not self.view.sceneBoundingRect().contains(scene_pos):
            return None
        return self.view.mapSceneToView(scene_pos)

    def mouseMoveEvent(self, event) -> None:
        super().mouseMoveEvent(event)
        self._last_scene_pos = self.mapToScene(event.position().toPoint())
        self._settle.start()

    def _on_move(self, scene_pos) -> None:
        if scene_pos is None or scene_pos == self._hovered_at:
            return
        self._hovered_at = QPointF(scene_pos)
        point = self._to_view(scene_pos)
        if point is not None:
            self.cursor.setData([point.x()], [point.y()])
            self.hovered.emit(float(point.x()), float(point.y()))

    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.isAccepted():
            return
        point = self._to_view(event.scenePos())
        if point is not None:
            self.clicked.emit(float(point.x()), float(point.y()), event.modifiers())
