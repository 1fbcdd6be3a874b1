"""Density lab tab: train a masked autoregressive flow on 2-D points and watch it warp a Gaussian into the data.

Training runs on the main worker (:func:`app.tabs.density.lab.train_lab`, the one training loop); its
snapshots redraw the density canvas, the stage slider walks from the Gaussian base (stage 0) through every
layer to the data (stage K), a click X-rays the Jacobian there, and the Costs page measures what the
triangular Jacobian buys and which direction of the flow is fast.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QTabWidget, QVBoxLayout, QWidget

from app.tabs.density.costs import CostsPage
from app.tabs.density.lab import train_lab
from engine.evaluation.flow_views import Snapshot
from engine.evaluation.heldout import gmm_heldout
from app.tabs.density.panel import DensityPanel
from app.tabs.density.views import DensityView
from app.tabs.density.xray import XRayBox
from app.widgets import with_side_panel
from app.widgets.point_canvas import with_drawn_point
from app.worker import Job, JobError
from engine.data.tables import check_points
from engine.errors import GenScopeError
from engine.events import Done, Progress
from engine.training.loop import EpochEnd

DRAW_NOTE = "Click or drag on the canvas to draw points, then Train."


class DensityLabTab(QWidget):
    """Canvas, stage slider and X-ray on the Density page, cost curves on the Costs page, controls right."""

    def __init__(self, context) -> None:
        super().__init__()
        self.context = context
        self.points, self.name = np.zeros((0, 2)), ""
        self.snapshot: Snapshot | None = None
        self.snapshot_extent = None  # the box of the fit shown: the view frames it once
        self.job: Job | None = None
        self.gmm_job: Job | None = None
        self.view = DensityView()
        self.panel = DensityPanel(context, self)
        self.xray = XRayBox(context)
        self.costs = CostsPage(context)
        self.stage = QSlider(Qt.Orientation.Horizontal)
        self.stage.setRange(0, 0)
        self.stage.setToolTip("From the Gaussian base (left) through each layer to the data (right)")
        self.stage.valueChanged.connect(self.show_stage)
        self.stage_label = QLabel("stage 0 of 0")
        self.stage_label.setMinimumWidth(self.stage_label.fontMetrics().horizontalAdvance("after layer 00 of 00") + 8)
        self.data_note, self.note = QLabel(), QLabel()
        for label in (self.data_note, self.note):
            label.setWordWrap(True)
        self._layout()
        self._wire()
        self._first_shown = False  # the first data load waits until the tab is first shown

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._first_shown:
            self._first_shown = True
            self.panel.picker.load_initial()

    def _layout(self) -> None:
        density = QWidget()
        row = QHBoxLayout(density)
        left = QVBoxLayout()
        left.addWidget(self.view, 1)
        slider = QHBoxLayout()
        slider.addWidget(QLabel("Stage"))
        slider.addWidget(self.stage, 1)
        slider.addWidget(self.stage_label)
        left.addLayout(slider)
        left.addWidget(self.data_note)
        left.addWidget(self.note)
        row.addLayout(left, 1)
        self.xray.setMinimumWidth(170)
        self.xray.setMaximumWidth(250)
        row.addWidget(self.xray)
        self.pages = QTabWidget()
        self.pages.addTab(density, "Density")
        self.pages.addTab(self.costs, "Costs")
        layout = QHBoxLayout(self)
        layout.addWidget(with_side_panel(self.pages, self.panel, 340))

    def _wire(self) -> None:
        picker = self.panel.picker
        picker.drawing.connect(self._drawing)
        picker.cleared.connect(lambda: self.set_points(np.zeros((0, 2)), DRAW_NOTE, "the drawn points"))
        picker.loaded.connect(self._loaded)
        picker.message.connect(self.note.setText)
        self.view.canvas_clicked.connect(self._draw)
        self.view.point_clicked.connect(self._clicked)

    # ------------------------------------------------------------- data
    def _drawing(self, on: bool) -> None:
        self.view.drawing = on

    def _loaded(self, pset) -> None:
        """New points from the picker; points no density can be fitted to are refused (the old ones stay)."""
        name = self.panel.picker.loaded_name
        try:
            check_points(pset.points, name)
        except GenScopeError as exc:
            self.note.setText(f"{exc} The previous data and fit are kept.")
            return
        self.set_points(pset.points, pset.note, name)
        self.view.set_axis_names(*pset.axes)

    def set_points(self, points: np.ndarray, note: str = "", name: str = "") -> None:
        """New data (N, 2): the old fit goes with the old data."""
        self.stop()
        self.points, self.name = np.asarray(points, np.float64).reshape(-1, 2), name
        self.view.set_points(self.points)
        self.set_snapshot(None)
        self.panel.clear_table()
        self.panel.progress.setText(f"{len(self.points):,} points. Press Train.")
        self.data_note.setText(note)
        self.note.setText("")

    def _draw(self, x: float, y: float, dragging: bool) -> None:
        self.set_points(with_drawn_point(self.points, x, y, dragging, self.view), DRAW_NOTE, "the drawn points")
        self.view.set_points(self.points, lock_range=False)

    # ------------------------------------------------------------ training
    def train(self) -> Job | None:
        """Train a MAF on the points (and fit the GMM on the same split), unless the points cannot be fitted."""
        try:
            points = check_points(self.points, self.name or "the data")
        except GenScopeError as exc:
            self.note.setText(f"{exc} Nothing was trained; the previous fit is kept.")
            return None
        self.stop()
        settings = self.panel.settings()
        self.panel.set_training(True)
        self.note.setText("Training…")
        self.panel.set_row("GMM", "GMM (fitting…)", None, None)
        self.job = self.context.worker.submit(
            lambda: train_lab(points, settings), name="Training a MAF", key="density-train", cancel_running=True,
            paced=True, on_event=self._on_event, on_error=self._on_error, on_finished=self._finished)
        self.gmm_job = self.context.worker.submit(
            lambda: gmm_heldout(points, seed=settings.seed), name="GMM by BIC", key="density-gmm",
            cancel_running=True, on_event=self._gmm_event, on_error=self._on_error)
        return self.job

    def stop(self) -> None:
        if self.gmm_job is not None and not self.gmm_job.state.finished:
            self.panel.set_row("GMM", "GMM (stopped)", None, None)
        if self.job is not None and not self.job.state.finished:
            self.note.setText("Stopped. The flow so far stays; Train starts afresh.")
        for job in (self.job, self.gmm_job):
            if job is not None:
                job.cancel()
        self.job = self.gmm_job = None
        self.panel.set_training(False)

    def _on_event(self, event: object) -> None:
        if isinstance(event, Snapshot):
            self.set_snapshot(event)
        elif isinstance(event, EpochEnd):
            nll = event.train.get("nll", event.train["loss"])
            self.panel.progress.setText(f"Epoch {event.epoch}: training NLL {nll:.4f} nats per point")
        elif isinstance(event, Done):
            snap = event.result
            self.note.setText(f"Trained {snap.epoch} epochs ({snap.step} steps). Click a point to X-ray it.")

    def _gmm_event(self, event: object) -> None:
        if isinstance(event, Progress):
            self.panel.set_row("GMM", f"GMM (K = {event.done}…)", None, None)
        elif isinstance(event, Done):
            r = event.result
            self.panel.set_row("GMM", f"GMM, K = {r['k']} (BIC)", r["train_ll"], r["test_ll"])

    def _on_error(self, error: JobError) -> None:
        self.note.setText(error.text())

    def _finished(self, job: Job) -> None:
        if job is self.job:
            self.panel.set_training(False)

    # ------------------------------------------------------------- views
    def set_snapshot(self, snap: Snapshot | None) -> None:
        """Show a state of the flow (None: none); the slider keeps its place, at the data stage by default."""
        at_end = self.snapshot is None or self.stage.value() == self.stage.maximum()
        self.snapshot = snap
        self.xray.set_snapshot(snap)
        if snap is None:
            self.view.clear_density()
            self.stage.setRange(0, 0)
            self.stage_label.setText("no flow yet")
            self.snapshot_extent = None
            return
        layers = snap.density.shape[0] - 1
        if self.snapshot_extent != snap.extent:  # a fit of new data: frame all its stages once
            x0, x1, y0, y1 = snap.extent
            self.view.view.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
            self.snapshot_extent = snap.extent
        self.stage.blockSignals(True)
        self.stage.setRange(0, layers)
        if at_end:
            self.stage.setValue(layers)
        self.stage.blockSignals(False)
        self.show_stage(self.stage.value())
        self.panel.set_row("MAF", f"MAF, {layers} layers", snap.train_ll, snap.test_ll)

    def show_stage(self, stage: int) -> None:
        if self.snapshot is None:
            return
        layers = self.snapshot.density.shape[0] - 1
        self.view.show_stage(self.snapshot, stage)
        self.stage_label.setText("Gaussian base" if stage == 0 else
                                 f"data (layer {stage} of {layers})" if stage == layers else
                                 f"after layer {stage} of {layers}")

    def _clicked(self, x: float, y: float) -> None:
        if self.snapshot is None:
            self.note.setText("Train the flow first, then click a point to X-ray its Jacobian.")
            return
        self.view.mark((x, y))
        self.xray.x_ray(x, y)

    def shutdown(self) -> None:
        self.stop()
        self.costs.stop()
