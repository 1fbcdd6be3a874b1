"""Small views for grayscale images (digits, strips, mosaics) and a draw pad."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


def to_qimage(image: np.ndarray, invert: bool = False) -> QImage:
    """(H, W) float in [0, 1] (1 = ink) -> 8-bit grayscale QImage (a copy)."""
    data = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
    if invert:
        data = 1.0 - data
    pixels = np.ascontiguousarray((data * 255).astype(np.uint8))
    h, w = pixels.shape
    return QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def read_picture(path) -> np.ndarray | None:
    """Any image file Qt can read -> (h, w) uint8 grey or (h, w, 4) uint8 RGBA; None if unreadable."""
    image = QImage(str(path))
    if image.isNull():
        return None
    grey = image.isGrayscale()
    image = image.convertToFormat(QImage.Format.Format_Grayscale8 if grey else QImage.Format.Format_RGBA8888)
    h, w, channels = image.height(), image.width(), 1 if grey else 4
    rows = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * h).reshape(h, -1)
    pixels = rows[:, : w * channels].reshape(h, w, channels).copy()
    return pixels[..., 0] if grey else pixels


def save_png(image: np.ndarray, path: str, scale: int = 4) -> None:
    """Write (H, W) [0, 1] to a PNG, upscaled ``scale`` times with nearest pixels."""
    big = np.kron(np.asarray(image, np.float32), np.ones((scale, scale), np.float32))
    if not to_qimage(big).save(str(path), "PNG"):
        raise OSError(f"Could not write {path}")


class ImageLabel(QLabel):
    """Shows a grayscale array scaled to the label, crisp (nearest) pixels."""

    def __init__(self, min_size: int = 84, tooltip: str = "") -> None:
        super().__init__()
        self.setMinimumSize(min_size, min_size)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("background: black;")
        self.setToolTip(tooltip)
        self.image: np.ndarray | None = None

    def set_image(self, image: np.ndarray | None) -> None:
        self.image = None if image is None else np.asarray(image)
        self._render()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._render()

    def _render(self) -> None:
        if self.image is None:
            self.clear()
            return
        pixmap = QPixmap.fromImage(to_qimage(self.image))
        self.setPixmap(pixmap.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.FastTransformation))


class DrawPad(QWidget):
    """A 28×28 canvas to draw a digit with the mouse; emits ``drawn(image)``.

    The image is (28, 28) float32 in [0, 1]; the brush is a soft disc about
    two pixels wide, like MNIST's pen strokes.
    """

    drawn = Signal(object)

    def __init__(self, size: int = 28, scale: int = 6) -> None:
        super().__init__()
        self.n, self.scale = size, scale
        self.setFixedSize(size * scale, size * scale)
        self.setToolTip("Draw a digit; release the mouse to inspect it. Right-click clears.")
        self.image = np.zeros((size, size), np.float32)
        self._yy, self._xx = np.mgrid[0:size, 0:size]

    def clear(self) -> None:
        self.image[:] = 0
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        img = to_qimage(self.image).scaled(self.width(), self.height())
        painter.drawImage(0, 0, img)
        painter.setPen(Qt.GlobalColor.darkGray)
        painter.drawRect(0, 0, self.width() - 1, self.height() - 1)

    def _stroke(self, pos: QPointF) -> None:
        cx, cy = pos.x() / self.scale - 0.5, pos.y() / self.scale - 0.5
        d2 = (self._xx - cx) ** 2 + (self._yy - cy) ** 2
        self.image = np.maximum(self.image, np.clip(1.6 - np.sqrt(d2), 0, 1).astype(np.float32))
        self.update()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.RightButton:
            self.clear()
            return
        self._stroke(event.position())

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._stroke(event.position())

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.drawn.emit(self.image.copy())
