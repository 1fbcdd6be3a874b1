"""Mask X-ray: a MADE's masks and what they let each output see.

Top: a tiny MADE (4 x 4 pixels, hidden layers of 12 and 10 units), each
layer's mask as a matrix whose rows and columns carry the connectivity
labels of their units; "New masks" draws a new mask set, the ordering
picker re-labels the inputs. Hovering a pixel of its 4 x 4 map lights the
inputs that output may depend on. The tiny model is small enough to X-ray on
the GUI thread (16 x 16 matrices).

Bottom: the MNIST MADEs (bundled, and the order-agnostic one with its mask
set from a spin box), X-rayed on the interactive worker (which loads and owns
them; latest request wins). Hover an output pixel of the ordering map: the
two maps beside it light the inputs it may depend on from the masks and from
autograd (:mod:`engine.evaluation.connectivity`), and the line below says
whether they agree.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.tabs.orderings.views import MaskMatrix, PixelMap, lit_colours, lut_colours
from app.widgets import spin_box
from app.worker import once
from engine.catalog import load_model
from engine.cards.bundled import find_bundled
from engine.evaluation.connectivity import XRay, output_view, tiny_made, xray
from engine.errors import CheckpointError
from engine.events import Done
from engine.models.orderings import ORDERINGS, step_map

MNIST_MODELS = (("made", "MADE, 1 mask (bundled)"), ("made_orderless", "MADE, order-agnostic, 32 masks (bundled)"))


def order_colours(ray: XRay):
    """The ordering as a picture: (H, W, 3) step colours, early dark, late bright."""
    steps = step_map(ray.order, ray.height, ray.width)
    return lut_colours(steps, ray.height * ray.width - 1, "viridis")


def verdict(ray: XRay, pixel: int) -> str:
    """One line about output ``pixel``: its step, how many inputs it may see, and whether the two ways agree."""
    row, col = divmod(pixel, ray.width)
    step = int(step_map(ray.order, ray.height, ray.width)[row, col])
    seen, diff = int(ray.by_masks[pixel].sum()), ray.differences(pixel)
    agree = "masks and autograd agree" if diff == 0 else f"masks and autograd differ in {diff} pixels"
    return f"Output ({row}, {col}), step {step}: may depend on {seen} of the {step} earlier inputs; {agree}."


def overall(ray: XRay) -> str:
    diff = ray.differences()
    pairs = int(ray.by_masks.sum())
    if diff:
        return f"Over all outputs the two ways differ in {diff} (output, input) pairs."
    return (f"Over all {ray.height * ray.width} outputs the two ways agree "
            f"({pairs} dependencies, each on an earlier step).")


class XRayPage(QWidget):
    """The tiny MADE's masks above, the MNIST models' hover maps below."""

    def __init__(self, context) -> None:
        super().__init__()
        self.context = context
        self.seed = 0
        self.tiny: XRay | None = None
        self.mnist: XRay | None = None
        self.requested: tuple[str, int] | None = None
        self._owned = {}  # MNIST models by name: touched only on the interactive worker, their owner
        self._build_tiny()
        self._build_mnist()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tiny_box)
        layout.addWidget(self.mnist_box)
        layout.addStretch(1)
        self.redraw_tiny()

    # ------------------------------------------------------------------ tiny MADE
    def _build_tiny(self) -> None:
        self.tiny_box = QGroupBox("A tiny MADE: 4 x 4 pixels, hidden layers of 12 and 10 units")
        self.ordering = QComboBox()
        self.ordering.addItems(ORDERINGS)
        self.ordering.setCurrentText("random")
        self.ordering.setToolTip("The ordering of the 16 inputs (random ones come from the mask seed)")
        self.ordering.activated.connect(lambda _: self.redraw_tiny())
        self.new_masks = QPushButton("New masks")
        self.new_masks.setToolTip("Draw new hidden labels (and a new random ordering) from the next seed")
        self.new_masks.clicked.connect(self._next_masks)
        self.seed_label = QLabel()
        self.matrices = [MaskMatrix() for _ in range(3)]
        self.tiny_map = PixelMap(4, 4, cell=26, tooltip="Each input's label (its step); hover an output pixel")
        self.tiny_map.hovered.connect(self._hover_tiny)
        self.tiny_note = QLabel()
        self.tiny_note.setWordWrap(True)
        controls = QHBoxLayout()
        for widget in (QLabel("Ordering:"), self.ordering, self.new_masks, self.seed_label):
            controls.addWidget(widget)
        controls.addStretch(1)
        row = QHBoxLayout()
        side = QVBoxLayout()
        side.addWidget(QLabel("Inputs by label"))
        side.addWidget(self.tiny_map)
        side.addStretch(1)
        row.addLayout(side)
        for matrix in self.matrices:
            row.addWidget(matrix)
        row.addStretch(1)
        box = QVBoxLayout(self.tiny_box)
        box.addLayout(controls)
        box.addLayout(row)
        box.addWidget(self.tiny_note)

    def _next_masks(self) -> None:
        self.seed += 1
        self.redraw_tiny()

    def redraw_tiny(self) -> None:
        """X-ray the tiny MADE of the current seed and ordering and draw its masks."""
        ray = self.tiny = xray(tiny_made(self.seed, self.ordering.currentText()))
        names = ["inputs", "hidden 1", "hidden 2", "outputs"]
        for layer, matrix in enumerate(self.matrices):
            title = f"{names[layer + 1]} <- {names[layer]}"
            matrix.set_mask(ray.masks[layer], ray.labels[layer + 1], ray.labels[layer], title)
        self.seed_label.setText(f"mask seed {self.seed}")
        self.tiny_map.set_texts(step_map(ray.order, 4, 4))
        self.tiny_map.set_rgb(order_colours(ray) * 0.6)
        self.tiny_map.set_mark(None)
        self.tiny_note.setText("Each mask: rows are the receiving units, columns the sending ones, blue = weight "
                               "kept; the numbers are connectivity labels. A hidden unit sees the units below whose "
                               "label is <= its own, an output the hidden units whose label is < its own. "
                               + overall(ray))

    def _hover_tiny(self, pixel: int) -> None:
        ray = self.tiny
        self.tiny_map.set_rgb(lit_colours(output_view(ray.by_masks, pixel, 4, 4)) * 0.8)
        self.tiny_map.set_mark(pixel)
        self.tiny_note.setText(verdict(ray, pixel) + " (lit: the inputs it may depend on)")

    # ------------------------------------------------------------------ MNIST models
    def _build_mnist(self) -> None:
        self.mnist_box = QGroupBox("The MNIST MADEs: hover an output pixel")
        self.model_box = QComboBox()
        for _, label in MNIST_MODELS:
            self.model_box.addItem(label)
        self.model_box.activated.connect(lambda _: self.request())
        self.mask_set = spin_box(0, 7, 0, tip="Which of the order-agnostic model's mask sets (each its own ordering)")
        self.mask_set.valueChanged.connect(lambda _: self.request())
        self.output_map = PixelMap(28, 28, 6, "The ordering (dark = early); hover an output pixel")
        self.output_map.hovered.connect(self._hover_mnist)
        self.from_masks, self.from_grad = PixelMap(28, 28, 6), PixelMap(28, 28, 6)
        self.verdict = QLabel("Loading…")
        self.verdict.setWordWrap(True)
        controls = QHBoxLayout()
        for widget in (QLabel("Model:"), self.model_box, QLabel("Mask set:"), self.mask_set):
            controls.addWidget(widget)
        controls.addStretch(1)
        grid = QGridLayout()
        titles = ("Ordering: hover an output", "May depend on: from the masks", "From autograd gradients")
        for col, (title, view) in enumerate(zip(titles, (self.output_map, self.from_masks, self.from_grad))):
            grid.addWidget(QLabel(title), 0, col)
            grid.addWidget(view, 1, col)
        grid.setColumnStretch(3, 1)
        box = QVBoxLayout(self.mnist_box)
        box.addLayout(controls)
        box.addLayout(grid)
        box.addWidget(self.verdict)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.requested is None:
            self.request()

    def request(self) -> None:
        """X-ray the chosen MNIST model and mask set on the interactive worker (latest request wins)."""
        name = MNIST_MODELS[self.model_box.currentIndex()][0]
        self.mask_set.setEnabled(name == "made_orderless")
        index = self.mask_set.value() if name == "made_orderless" else 0
        self.requested, self.mnist = (name, index), None  # no hover on the previous model's maps meanwhile
        owned = self._owned

        def run() -> tuple[int, XRay]:
            if name not in owned:
                bundled = find_bundled(name)
                if not bundled.ok:
                    raise CheckpointError(bundled.problem)
                owned[name] = load_model(bundled.path, expected_kind="made")
            model = owned[name]
            model.select(index)
            return model.n_masks, xray(model)

        self.verdict.setText("X-raying…")
        self.context.interactive.submit(lambda: once(run), name="Mask X-ray", key="orderings-xray",
                                        on_event=lambda e: self._xray_ready((name, index), e), brief=True,
                                        on_error=lambda e: self.verdict.setText(e.message))

    def _xray_ready(self, request: tuple[str, int], event) -> None:
        if not isinstance(event, Done) or request != self.requested:
            return  # a request overtaken by a newer one
        masks, self.mnist = event.result
        if masks > 1:  # the order-agnostic model's own count of mask sets
            self.mask_set.setMaximum(masks - 1)
        self.output_map.set_rgb(order_colours(self.mnist))
        for view in (self.from_masks, self.from_grad):
            view.set_rgb(lit_colours(np.zeros((self.mnist.height, self.mnist.width), bool)))
            view.set_mark(None)
        self.output_map.set_mark(None)
        self.verdict.setText(overall(self.mnist) + " Hover an output pixel of the ordering map.")

    def _hover_mnist(self, pixel: int) -> None:
        ray = self.mnist
        if ray is None:
            return
        self.output_map.set_mark(pixel)
        for view, matrix in ((self.from_masks, ray.by_masks), (self.from_grad, ray.by_autograd)):
            view.set_rgb(lit_colours(output_view(matrix, pixel, ray.height, ray.width)))
            view.set_mark(pixel)
        self.verdict.setText(verdict(ray, pixel))
