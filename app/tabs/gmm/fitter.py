"""GMM fitter tab: watch EM fit a Gaussian mixture, step by step.

EM runs on the worker (``GaussianMixture.em_steps``); every E and M step
becomes a :class:`Frame` kept in a history, so Play, Pause, Step E, Step M
and the history slider all just choose which frame to show.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from app.tabs.gmm.panel import GmmPanel
from app.widgets import with_side_panel
from app.widgets.axes import integer_axis, room_for_top_label
from app.tabs.gmm.mixture_view import MixtureView
from app.worker import Job, JobError
from engine.events import Done
from engine.models.gmm import EMDone, EMInit, EStep, GaussianMixture, MStep

MAX_DISPLAY = 20_000


@dataclass(frozen=True)
class Frame:
    """One animation frame: the mixture after an E or M step.

    resp: (n_display, K) float16 or None; weights (K,); means (K, 2);
    covs (K, 2, 2); loglik: mean log-likelihood per point, or None.
    """

    kind: str
    iteration: int
    resp: np.ndarray | None
    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray
    loglik: float | None


def em_frames(gmm: GaussianMixture, X: np.ndarray, display: np.ndarray, init_params=None) -> Iterator[object]:
    """Run EM (worker thread) and turn its events into display frames.

    X: (N, 2); display: indices of the points shown (responsibilities are
    kept only for those, as float16, to bound the history's memory).
    """
    params, resp = None, None
    for event in gmm.em_steps(X, init_params=init_params):
        if isinstance(event, EMInit):
            params = (event.weights, event.means, event.covariances)
            yield Frame("init", 0, None, *params, None)
        elif isinstance(event, EStep):
            resp = event.responsibilities[display].astype(np.float16)
            yield Frame("E", event.iteration, resp, *params, event.log_likelihood)
        elif isinstance(event, MStep):
            params = (event.weights, event.means, event.covariances)
            yield Frame("M", event.iteration, resp, *params, event.log_likelihood)
        elif isinstance(event, EMDone):
            yield event
    yield Done(gmm)


class GmmFitterTab(QWidget):
    """Scatter + ellipses on the left, controls on the right, curves below."""

    prior_fitted = Signal(object)  # a LatentPrior (app.tabs.gmm.panel): a mixture fitted on a model's latent codes

    def __init__(self, context) -> None:
        super().__init__()
        self.context = context
        self.points = np.zeros((0, 2))
        self.display = np.zeros(0, np.int64)
        self.frames: list[Frame] = []
        self.index = -1
        self.gmm: GaussianMixture | None = None
        self.job: Job | None = None
        self.em_done: EMDone | None = None
        self.view = MixtureView()
        self.panel = GmmPanel(context, self)
        self.loglik_plot = pg.PlotWidget(background="w", axisItems=integer_axis())
        self.loglik_plot.setLabel("left", "mean log-likelihood")
        self.loglik_plot.setLabel("bottom", "EM iteration")
        self.loglik_plot.setMaximumHeight(170)
        room_for_top_label(self.loglik_plot)
        self.loglik_curve = self.loglik_plot.plot(pen=pg.mkPen((31, 119, 180), width=2), symbol="o", symbolSize=4)
        self.loglik_marker = pg.InfiniteLine(angle=90, pen=pg.mkPen((214, 39, 40)))
        self.loglik_plot.addItem(self.loglik_marker)
        self.history = QSlider(Qt.Orientation.Horizontal)
        self.history.setToolTip("Rewind through every E and M step")
        self.history.valueChanged.connect(self.show_frame)
        self.frame_label = QLabel("No fit yet")
        # room for the longest frame text: the slider does not jump, the text is never cut
        self.frame_label.setMinimumWidth(self.frame_label.fontMetrics().horizontalAdvance(
            "iteration 000, M step, log-lik -000.0000") + 8)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._advance)
        self._layout()
        self.view.mean_dragged.connect(self.restart_from_mean)
        self.view.canvas_clicked.connect(self.panel.add_drawn_point)
        self.panel.load_initial_source()

    def _layout(self) -> None:
        left = QWidget()
        col = QVBoxLayout(left)
        col.addWidget(self.view, 1)
        row = QHBoxLayout()
        row.addWidget(self.frame_label)
        row.addWidget(self.history, 1)
        col.addLayout(row)
        col.addWidget(self.panel.data_note)  # notes stay in view, not below the panel's fold
        col.addWidget(self.panel.note)
        col.addWidget(self.loglik_plot)
        split = with_side_panel(left, self.panel, 340)
        layout = QHBoxLayout(self)
        layout.addWidget(split)

    # ----------------------------------------------------------- data
    def set_points(self, points: np.ndarray, note: str = "", from_loader: bool = False) -> None:
        """New data: (N, 2). Shows at most MAX_DISPLAY of them; EM uses all."""
        if not from_loader:
            self.panel.cancel_load()
        self.stop()
        self.points = np.asarray(points, np.float64).reshape(-1, 2)
        n = len(self.points)
        rng = np.random.default_rng(0)
        self.display = np.sort(rng.choice(n, MAX_DISPLAY, replace=False)) if n > MAX_DISPLAY else np.arange(n)
        if n > MAX_DISPLAY:
            note = f"{note} Showing {MAX_DISPLAY:,} of {n:,} points; EM uses every point.".strip()
        self.frames, self.index, self.gmm, self.em_done = [], -1, None, None
        self.view.set_points(self.points[self.display])
        self.view.hide_components()
        self.view.show_samples(None)
        self.loglik_curve.setData([], [])
        self.panel.clear_k_choice()
        self.history.setRange(0, 0)
        self.frame_label.setText(f"{n:,} points")
        self.panel.set_data_note(note)
        self.panel.set_note("")

    # ------------------------------------------------------------ fitting
    def fit(self, init_params: dict | None = None) -> Job | None:
        """Start EM from scratch (or from ``init_params``) and play it."""
        gmm = self.panel.make_model(len(self.points))
        if gmm is None:
            return None
        self.stop()
        self.gmm, self.frames, self.index, self.em_done = gmm, [], -1, None
        self.view.set_components(gmm.n_components)
        self.view.show_samples(None)
        X, display = self.points.copy(), self.display.copy()
        self.job = self.context.worker.submit(
            lambda: em_frames(gmm, X, display, init_params), name="EM fit", key="gmm-fit", cancel_running=True,
            on_event=self._on_event, on_error=self._on_error,
        )
        self.play()
        return self.job

    def restart_from_mean(self, k: int, x: float, y: float) -> None:
        """The user dropped mean k at (x, y): re-seed EM from the shown frame."""
        frame = self.current_frame()
        if frame is None:
            return
        means = frame.means.copy()
        means[k] = (x, y)
        self.panel.set_note(f"Restarted EM with component {k + 1} moved to ({x:.3g}, {y:.3g}).")
        self.fit({"weights": frame.weights.copy(), "means": means, "covariances": frame.covs.copy()})

    def _on_event(self, event: object) -> None:
        if isinstance(event, Frame):
            self.frames.append(event)
            self.history.setRange(0, len(self.frames) - 1)
            if event.loglik is not None and event.kind == "M":
                xs = [f.iteration for f in self.frames if f.kind == "M"]
                ys = [f.loglik for f in self.frames if f.kind == "M"]
                self.loglik_curve.setData(xs, ys)
            if self.index < 0:
                self.history.setValue(0)
                self.show_frame(0)
        elif isinstance(event, EMDone):
            self.em_done = event
            self.panel.fit_finished(self.gmm, event)

    def _on_error(self, error: JobError) -> None:
        self.stop()
        self.panel.set_note(error.text())

    # ------------------------------------------------------------ playback
    def current_frame(self) -> Frame | None:
        return self.frames[self.index] if 0 <= self.index < len(self.frames) else None

    def show_frame(self, index: int) -> None:
        """Draw frame ``index``: colours from its E step, ellipses from its M step."""
        if not 0 <= index < len(self.frames):
            return
        self.index = index
        frame = self.frames[index]
        self.view.show_responsibilities(None if frame.resp is None else frame.resp.astype(np.float32))
        self.view.show_components(frame.means, frame.covs)
        self.loglik_marker.setValue(frame.iteration)
        ll = "" if frame.loglik is None else f", log-lik {frame.loglik:.4f}"
        step = "initialisation" if frame.kind == "init" else f"iteration {frame.iteration}, {frame.kind} step"
        self.frame_label.setText(f"{step}{ll}")
        if self.history.value() != index:
            self.history.blockSignals(True)
            self.history.setValue(index)
            self.history.blockSignals(False)

    def play(self) -> None:
        self.timer.start(max(1, int(1000 / self.panel.speed())))

    def pause(self) -> None:
        self.timer.stop()

    def stop(self) -> None:
        self.timer.stop()
        if self.job is not None:
            self.job.cancel()
            self.job = None

    def _advance(self) -> None:
        if self.index + 1 < len(self.frames):
            self.show_frame(self.index + 1)
        elif self.em_done is not None:
            self.timer.stop()

    def step(self, kind: str) -> None:
        """Show the next frame of ``kind`` ("E" or "M"), pausing playback."""
        self.pause()
        for i in range(self.index + 1, len(self.frames)):
            if self.frames[i].kind == kind:
                self.show_frame(i)
                return

    def shutdown(self) -> None:
        self.stop()
