"""A fast scatter of many coloured points, rasterised with numpy.

pyqtgraph's ScatterPlotItem builds one symbol per distinct brush, so 20k
points with 20k soft colours redraw at a few frames per second. This item
splats every point as a small round dot into an RGBA image at the view's
pixel resolution and shows it with one ImageItem: colours change at the
cost of one numpy pass, and pan/zoom re-rasterises at the new resolution.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer

#: A qualitative palette (Tableau 10), RGB in 0..255, for digits and components.
PALETTE = np.array(
    [
        [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
        [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
    ],
    dtype=np.float32,
)


def palette(k: int) -> np.ndarray:
    """``k`` distinct colours, (k, 3) float32 RGB in 0..255."""
    if k <= len(PALETTE):
        return PALETTE[:k].copy()
    hues = np.linspace(0, 1, k, endpoint=False)
    return np.array([pg.hsvColor(h, 0.75, 0.9).getRgb()[:3] for h in hues], dtype=np.float32)


def mix_colours(weights: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Soft colour mixing: (N, K) weights summing to 1 × (K, 3) RGB -> (N, 3)."""
    return np.asarray(weights, dtype=np.float32) @ colours


def _disc(radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets (dy, dx) and anti-aliased coverage of a dot of ``radius`` pixels."""
    r = int(np.ceil(radius))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    cover = np.clip(radius + 0.5 - np.hypot(dy, dx), 0.0, 1.0)
    keep = cover > 0
    return dy[keep], dx[keep], cover[keep].astype(np.float32)


def rasterise(
    points: np.ndarray, colours: np.ndarray, rect: QRectF, size: tuple[int, int], radius: float = 2.0, alpha: float = 0.85
) -> np.ndarray:
    """Splat points into an RGBA image.

    points: (N, 2) data coordinates; colours: (N, 3) RGB 0..255 or (3,) for all;
    rect: the data-space rectangle the image covers; size: (width, height) in
    pixels. Returns (width, height, 4) uint8 in pyqtgraph's column-major order.
    Later points are drawn over earlier ones; a dot's rim is faded by its
    pixel coverage. Cost: one integer scatter per dot pixel, then one gather
    per image pixel (no per-pixel blending loops).
    """
    w, h = size
    if len(points) == 0 or w < 1 or h < 1:
        return np.zeros((w, h, 4), dtype=np.uint8)
    px = np.floor((points[:, 0] - rect.left()) / rect.width() * w).astype(np.int64)
    py = np.floor((points[:, 1] - rect.top()) / rect.height() * h).astype(np.int64)
    owner = np.full(w * h, -1, dtype=np.int64)
    cover = np.zeros(w * h, dtype=np.float32)
    ids = np.arange(len(points))
    dy, dx, weight = _disc(radius)
    order = np.argsort(weight)  # rim first, centre last: a centre wins over a neighbour's rim
    for ddx, ddy, c in zip(dx[order], dy[order], weight[order]):
        x, y = px + ddx, py + ddy
        ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        flat = x[ok] * h + y[ok]
        owner[flat] = ids[ok]
        cover[flat] = c
    table = np.zeros((len(points) + 1, 4), np.uint8)  # the last row is for "no point" (owner -1)
    table[:-1, :3] = np.clip(np.broadcast_to(np.asarray(colours, np.float32), (len(points), 3)), 0, 255)
    # Gather whole RGBA pixels as 32-bit words: several times faster than 3 strided bytes.
    img = np.take(table.view(np.uint32)[:, 0], owner).view(np.uint8).reshape(w * h, 4)
    img[:, 3] = (255 * alpha) * cover
    return img.reshape(w, h, 4)


class PointCloudItem(pg.ImageItem):
    """Many coloured points in a ViewBox, redrawn from numpy on change.

    Call :meth:`set_points` once per data set and :meth:`set_colours` per
    frame. Re-rasterises (coalesced) when the view range or size changes.
    """

    def __init__(self, view: pg.ViewBox, radius: float = 2.0, alpha: float = 0.85) -> None:
        super().__init__()
        self.view = view
        self.radius, self.alpha = radius, alpha
        self.points = np.zeros((0, 2), np.float32)
        self.colours = np.zeros((0, 3), np.float32)
        self._pending = QTimer()
        self._pending.setSingleShot(True)
        self._pending.setInterval(15)
        self._pending.timeout.connect(self.redraw)
        view.sigRangeChanged.connect(lambda *_: self._pending.start())
        view.sigResized.connect(lambda *_: self._pending.start())
        view.addItem(self, ignoreBounds=True)
        self.setZValue(-10)

    def set_points(self, points: np.ndarray, colours: np.ndarray | None = None) -> None:
        """points: (N, 2); colours: (N, 3) or (3,) RGB 0..255 (grey if None)."""
        self.points = np.asarray(points, np.float32).reshape(-1, 2)
        self.set_colours(np.array([90, 90, 90], np.float32) if colours is None else colours)

    def set_colours(self, colours: np.ndarray) -> None:
        colours = np.asarray(colours, np.float32)
        self.colours = np.broadcast_to(colours, (len(self.points), 3)) if colours.ndim == 1 else colours
        self.redraw()

    def redraw(self) -> None:
        rect = self.view.viewRect()
        size = self.view.sceneBoundingRect().size()
        w, h = max(1, int(size.width())), max(1, int(size.height()))
        img = rasterise(self.points, self.colours, rect, (w, h), self.radius, self.alpha)
        self.setImage(img, autoLevels=False, levels=(0, 255))
        key = (rect.left(), rect.top(), rect.width(), rect.height(), w, h)
        if key != getattr(self, "_placed", None):  # re-placing the item costs a full scene update
            self.setRect(rect)
            self._placed = key
