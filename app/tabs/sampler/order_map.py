"""The Sampler's ordering map: the step at which each pixel is painted, a small heatmap beside the canvas.

The map shows the ordering of the run on the canvas (the model's own when
nothing ran yet); while painting, a red square marks the current pixel. An
order-agnostic MADE paints in any ordering chosen under the map (set on the
worker that owns the model, mask set 0 with that ordering); a fixed-order
model keeps its own, the choice greyed out with the reason.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import torch
from PySide6.QtWidgets import QComboBox, QLabel, QVBoxLayout, QWidget

from app.worker import once
from engine.events import Done
from engine.models.orderings import ORDERINGS, make_ordering, step_map

STEP_MAP = pg.colormap.get("viridis")
_STEP_LUT = STEP_MAP.getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.float32) / 255.0
MAP_WIDTH = 150


def order_agnostic(model) -> bool:
    """Whether every ordering of ``model`` is a valid conditional it was trained for (an order-agnostic MADE)."""
    return bool(getattr(model, "order_agnostic", False))


def ordering_note(model) -> str:
    """Why the ordering can or cannot be changed for ``model``, in one or two sentences."""
    if model.kind == "pixelcnn":
        return "A PixelCNN paints in raster order only: its masked convolutions fix the ordering."
    if order_agnostic(model):
        return (f"Order-agnostic: any ordering gives a valid conditional. Trained on {model.n_masks} (its own "
                "raster and random ones); others paint worse.")
    return (f"Trained in {getattr(model, 'ordering', 'raster')} order: changing the ordering is only valid for "
            "order-agnostic models.")


def set_model_order(model, order: torch.Tensor) -> None:
    """Worker side: paint an order-agnostic MADE in ``order`` (D,) from now on (its first mask set's connectivity)."""
    model.select(0, order)


class OrderMap(QWidget):
    """Title, the step map (dark: first, yellow: last) with the current pixel marked, the ordering choice, a note."""

    def __init__(self) -> None:
        super().__init__()
        self.setFixedWidth(MAP_WIDTH)
        self.title = QLabel("<b>Ordering</b>")
        self.title.setWordWrap(True)
        self.plot = pg.GraphicsLayoutWidget()
        self.plot.setBackground("w")
        self.plot.setFixedSize(MAP_WIDTH - 6, MAP_WIDTH - 6)
        self.view = self.plot.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self.view.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.marker = pg.PlotCurveItem(pen=pg.mkPen(230, 30, 30, width=2))
        self.view.addItem(self.image)
        self.view.addItem(self.marker, ignoreBounds=True)
        self.plot.setToolTip("The step at which each pixel is painted: dark first, yellow last; "
                             "the red square is the pixel being painted")
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.choice = QComboBox()
        self.choice.addItems(list(ORDERINGS))
        self.choice.setToolTip("The ordering to paint in (order-agnostic models only); random uses the seed")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.title, self.plot, self.legend, QLabel("Paint in"), self.choice, self.note):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.steps: np.ndarray | None = None  # (H, W) the step of each pixel, as shown

    def show_order(self, order, height: int, width: int, name: str) -> None:
        """Show ordering ``order`` (D,) of an ``height x width`` image, called ``name``."""
        self.steps = step_map(order, height, width)
        index = (self.steps * 255 // max(self.steps.size - 1, 1)).astype(np.intp)
        self.image.setImage(_STEP_LUT[index], autoLevels=False, levels=(0.0, 1.0))
        self.view.autoRange(padding=0.01)
        self.title.setText(f"<b>Ordering</b>: {name}")
        self.mark(None)

    def mark(self, pixel: tuple[int, int] | None) -> None:
        """A red square on ``pixel`` (row, col) and its step under the map, or none and the colour scale."""
        if self.steps is None:
            return
        if pixel is None:
            self.marker.setData([], [])
            self.legend.setText(f"step 0 (dark) to {self.steps.size - 1} (yellow)")
            return
        r, c = pixel
        self.marker.setData([c, c + 1, c + 1, c, c], [r, r, r + 1, r + 1, r])
        self.legend.setText(f"now step {self.steps[r, c]} of {self.steps.size}")


class OrderingControl:
    """The ordering a page paints in; talks to its page (``page.model``, ``page.models.worker``,
    ``page.panel.seed``, ``page.stop``, ``page.set_note``, ``page.ordering_changed``) by plain calls."""

    def __init__(self, page) -> None:
        self.page = page
        self.map = OrderMap()
        self.name = "raster"
        self.order: torch.Tensor | None = None  # (D,) the model's ordering now (runs may use another)
        self.map.choice.activated.connect(self._chosen)

    def model_changed(self, model) -> None:
        """A freshly loaded model paints in its own ordering."""
        self.order = model.order().clone()
        self.name = getattr(model, "ordering", "raster")
        self.map.choice.blockSignals(True)
        if self.name in ORDERINGS:
            self.map.choice.setCurrentText(self.name)
        self.map.choice.blockSignals(False)
        self.map.choice.setEnabled(order_agnostic(model))
        self.map.note.setText(ordering_note(model))
        self.show(self.order, self.name)

    def show(self, order, name: str) -> None:
        model = self.page.model
        self.map.show_order(order, model.height, model.width, name)

    def _chosen(self, index: int) -> None:
        model, name = self.page.model, ORDERINGS[index]
        if model is None or not order_agnostic(model):
            return
        seed = self.page.panel.seed.value()
        order = make_ordering(name, model.height, model.width, seed)
        label = f"random (seed {seed})" if name == "random" else name
        self.page.stop()
        self.page.models.worker.submit(
            lambda: once(lambda: set_model_order(model, order)), name="Setting the ordering", key="ordering",
            on_event=lambda e: self._set(model, label, order) if isinstance(e, Done) else None,
            on_error=lambda e: self.page.set_note(e.text()))

    def _set(self, model, name: str, order: torch.Tensor) -> None:
        if model is not self.page.model:
            return
        self.name, self.order = name, order
        self.show(order, name)
        self.page.ordering_changed()
