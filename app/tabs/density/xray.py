"""Jacobian X-ray: the D x D Jacobian dz/dx of the flow at a clicked point, for the whole flow or one layer
(lower triangular in that layer's ordering), with the O(D) log-determinant beside slogdet of the matrix."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QGroupBox, QLabel, QVBoxLayout

from engine.evaluation.flow_views import XRay, xray
from app.tabs.density.views import JacobianView
from app.worker import once
from engine.events import Done

WHOLE = "Whole flow"


class XRayBox(QGroupBox):
    """Layer choice, the Jacobian heatmap and the two log-determinants of the last clicked point."""

    def __init__(self, context) -> None:
        super().__init__("Jacobian X-ray")
        self.context = context
        self.snapshot, self.point, self.result = None, None, None
        col = QVBoxLayout(self)
        self.layer = QComboBox()
        self.layer.addItem(WHOLE)
        self.layer.setToolTip("The whole flow's Jacobian, or one layer's (1: next to the Gaussian base)")
        self.layer.activated.connect(lambda _: self.run())
        self.matrix = JacobianView()
        self.matrix.setFixedHeight(240)
        self.numbers = QLabel("Click a point on the density to X-ray the flow there.")
        self.numbers.setWordWrap(True)
        why = QLabel("In one layer, z_i depends only on x_i and the inputs before it in the layer's order: dz/dx is "
                     "triangular, and log|det| is the sum of the logs of its diagonal, O(D) instead of O(D³). "
                     "The Costs page measures the difference.")
        why.setWordWrap(True)
        why.setStyleSheet("color: #555;")
        col.addWidget(self.layer)
        col.addWidget(self.matrix)
        col.addWidget(self.numbers)
        col.addStretch(1)
        col.addWidget(why)

    def set_snapshot(self, snapshot) -> None:
        """A new state of the flow (None: no flow): the layer list follows it, the shown X-ray is redone."""
        self.snapshot = snapshot
        layers = 0 if snapshot is None else snapshot.model.n_layers
        if self.layer.count() != layers + 1:
            keep = self.layer.currentIndex()
            self.layer.clear()
            self.layer.addItems([WHOLE] + [f"Layer {k + 1} of {layers}" for k in range(layers)])
            self.layer.setCurrentIndex(keep if keep <= layers else 0)
        if snapshot is None:
            self.point, self.result = None, None
            self.matrix.show_matrix(None, [])
            self.numbers.setText("Click a point on the density to X-ray the flow there.")
        elif self.point is not None:
            self.run()

    def x_ray(self, x: float, y: float) -> None:
        """X-ray the data point (x, y)."""
        self.point = (x, y)
        self.run()

    def run(self) -> None:
        if self.snapshot is None or self.point is None:
            return
        snap, point = self.snapshot, self.point
        layer = None if self.layer.currentIndex() <= 0 else self.layer.currentIndex() - 1
        self.context.interactive.submit(lambda: once(lambda: xray(snap.model, snap.scaler, point, layer)),
                                        name="Jacobian X-ray", key="density-xray", brief=True,
                                        on_event=self._shown, on_error=lambda e: self.numbers.setText(e.text()))

    def _shown(self, event: object) -> None:
        if not isinstance(event, Done):
            return
        result: XRay = event.result
        self.result = result
        names = [f"x{i + 1}" for i in result.order]
        self.matrix.show_matrix(result.jacobian, names)
        what = "sum of log-scales" if result.layer is None else "Σ log|diagonal|"
        where = "whole flow" if result.layer is None else \
            f"layer {result.layer + 1}, lower triangular in its order {', '.join(names)}"
        self.numbers.setText(f"At ({result.point[0]:.3g}, {result.point[1]:.3g}), {where}:\n"
                             f"{what} = {result.fast_logdet:.6f}\nslogdet of dz/dx = {result.slogdet:.6f}")
