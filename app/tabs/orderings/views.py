"""Views only the Orderings tab uses: a pixel map to hover or draw on, and a mask matrix with unit labels.

Both paint with QPainter from numpy arrays handed to them; neither computes anything of the model.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen
from PySide6.QtWidgets import QFrame, QScrollArea, QSizePolicy, QWidget

LIT = np.array([1.0, 0.80, 0.15], np.float32)     # an input the hovered output may depend on
DARK = np.array([0.13, 0.13, 0.17], np.float32)
HOVER = QColor(230, 40, 40)


def lut_colours(values: np.ndarray, top: float, name: str = "inferno") -> np.ndarray:
    """Values (...,) on the scale 0..top -> RGB (..., 3) float in [0, 1] with pyqtgraph's colormap ``name``."""
    lut = pg.colormap.get(name).getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.float32) / 255.0
    index = np.clip(np.nan_to_num(np.asarray(values, np.float64)) / max(top, 1e-12) * 255, 0, 255).astype(np.intp)
    return lut[index]


def lit_colours(lit: np.ndarray) -> np.ndarray:
    """(H, W) bool -> RGB (H, W, 3): lit pixels yellow on dark."""
    return np.where(np.asarray(lit, bool)[..., None], LIT, DARK)


def to_rgb_image(rgb: np.ndarray) -> QImage:
    """(H, W, 3) float in [0, 1] -> a QImage (a copy)."""
    pixels = np.ascontiguousarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    h, w, _ = pixels.shape
    return QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def scrolled(page: QWidget) -> QScrollArea:
    """``page`` in a frameless scroll area: it fits 1200 x 800 without scrolling, and a smaller window still opens."""
    area = QScrollArea()
    area.setWidget(page)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area


class PixelMap(QWidget):
    """An (H, W) grid of coloured pixels, ``cell`` screen pixels each.

    ``hovered(index)`` (flat raster index) when the mouse enters another
    pixel; with ``drawable``, a press or drag with the left button appends the
    pixels it crosses to ``visited`` and emits ``visited_changed``.
    """

    hovered = Signal(int)
    visited_changed = Signal()

    def __init__(self, height: int, width: int, cell: int = 6, tooltip: str = "") -> None:
        super().__init__()
        self.h, self.w, self.cell = height, width, cell
        self.setFixedSize(width * cell + 2, height * cell + 2)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self.setToolTip(tooltip)
        self.image: QImage | None = None
        self.mark: int | None = None
        self.drawable = False
        self.visited: list[int] = []
        self.texts: np.ndarray | None = None
        self._last = -1

    def set_rgb(self, rgb: np.ndarray | None) -> None:
        self.image = None if rgb is None else to_rgb_image(rgb)
        self.update()

    def set_mark(self, index: int | None) -> None:
        self.mark = index
        self.update()

    def set_texts(self, texts: np.ndarray | None) -> None:
        """(H, W) values written in each cell (the tiny model's step labels), or None."""
        self.texts = texts
        self.update()

    def pixel_at(self, pos) -> int | None:
        col, row = int((pos.x() - 1) // self.cell), int((pos.y() - 1) // self.cell)
        return row * self.w + col if 0 <= row < self.h and 0 <= col < self.w else None

    def pixel_center(self, index: int) -> QPoint:
        """Widget coordinates of the middle of pixel ``index`` (for tests and for marks)."""
        row, col = divmod(int(index), self.w)
        return QPoint(1 + col * self.cell + self.cell // 2, 1 + row * self.cell + self.cell // 2)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(60, 60, 60))
        if self.image is not None:
            painter.drawImage(QRect(1, 1, self.w * self.cell, self.h * self.cell), self.image)
        if self.texts is not None:
            painter.setPen(Qt.GlobalColor.white)
            for index, text in enumerate(np.asarray(self.texts).reshape(-1)):
                row, col = divmod(index, self.w)
                cell = QRect(1 + col * self.cell, 1 + row * self.cell, self.cell, self.cell)
                painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, str(text))
        if self.mark is not None:
            row, col = divmod(self.mark, self.w)
            painter.setPen(QPen(HOVER, 2))
            painter.drawRect(col * self.cell, row * self.cell, self.cell + 1, self.cell + 1)

    def mouseMoveEvent(self, event) -> None:
        index = self.pixel_at(event.position())
        if index is not None and index != self._last:
            self._last = index
            self.hovered.emit(index)
        if self.drawable and event.buttons() & Qt.MouseButton.LeftButton:
            self._visit(index)

    def mousePressEvent(self, event) -> None:
        if self.drawable and event.button() == Qt.MouseButton.LeftButton:
            self._visit(self.pixel_at(event.position()))

    def _visit(self, index: int | None) -> None:
        if index is not None and index not in self.visited:
            self.visited.append(index)
            self.visited_changed.emit()


class MaskMatrix(QWidget):
    """A layer's mask (out, in) as a matrix of cells, kept = filled; each row and column headed by its unit's label."""

    def __init__(self, cell: int = 15) -> None:
        super().__init__()
        self.cell, self.margin, self.top = cell, 24, 34
        self.mask = np.zeros((0, 0), bool)
        self.rows = self.cols = np.zeros(0, np.int64)
        self.title = ""
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_mask(self, mask: np.ndarray, row_labels: np.ndarray, col_labels: np.ndarray, title: str) -> None:
        self.mask, self.rows, self.cols, self.title = np.asarray(mask, bool), row_labels, col_labels, title
        self.setFixedSize(self.sizeHint())
        self.update()

    def _font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(7.0)
        return font

    def sizeHint(self) -> QSize:
        out, inp = self.mask.shape
        title = QFontMetrics(self._font()).horizontalAdvance(self.title) + 4
        return QSize(max(self.margin + inp * self.cell + 4, title), self.top + out * self.cell + 4)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setFont(self._font())
        painter.setPen(Qt.GlobalColor.black)
        painter.drawText(QRect(0, 0, self.width(), 14), Qt.AlignmentFlag.AlignLeft, self.title)
        c, x0, y0 = self.cell, self.margin, self.top
        for j, label in enumerate(self.cols):
            painter.drawText(QRect(x0 + j * c, y0 - 16, c, 14), Qt.AlignmentFlag.AlignCenter, str(label))
        for i, label in enumerate(self.rows):
            right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            painter.drawText(QRect(0, y0 + i * c, x0 - 3, c), right, str(label))
        for (i, j), kept in np.ndenumerate(self.mask):
            colour = QColor(40, 90, 200) if kept else QColor(225, 225, 230)
            painter.fillRect(x0 + j * c, y0 + i * c, c - 1, c - 1, colour)


__all__ = ["MaskMatrix", "PixelMap", "lit_colours", "lut_colours", "scrolled"]
