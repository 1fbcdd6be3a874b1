"""The GMM fitter's control panel: data source, settings, playback, K choice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from PySide6.QtCore import Qt

from app.widgets import in_a_row
from app.widgets.axes import integer_axis, room_for_top_label
from app.widgets.point_canvas import with_drawn_point
from app.widgets.point_source import PointSourceBox
from engine.cards.bundled import find_bundled
from engine.errors import GenScopeError
from engine.events import Done
from engine.models.gmm import GaussianMixture, choose_k

@dataclass(frozen=True)
class LatentPrior:
    """A mixture fitted on a model's latent codes: it is a prior only in that model's latent space.

    ``checkpoint`` names the model (its file), ``dim`` the latent dimension, ``space`` says it in words.
    """

    gmm: GaussianMixture
    checkpoint: Path
    dim: int
    space: str


DRAW_NOTE = "Click or drag on the canvas to draw points, then Fit."
COVARIANCES = ["full", "diag", "spherical", "tied"]
INITS = ["kmeans++", "kmeans", "random", "random_from_data"]


class GmmPanel(QWidget):
    """Controls; talks to its tab (``self.tab``) by plain method calls."""

    def __init__(self, context, tab) -> None:
        super().__init__()
        self.context, self.tab = context, tab
        self.setMinimumWidth(300)
        self.setMaximumWidth(380)
        layout = QVBoxLayout(self)
        model_box = self._model_box()  # first: the generated sets take the mixture's seed
        self.picker = PointSourceBox(context, "gmm", seed=self.seed.value)
        self.source = self.picker.source  # the source combo (tests and the README name it)
        self.picker.drawing.connect(self._drawing)
        self.picker.cleared.connect(lambda: self.tab.set_points(np.zeros((0, 2)), DRAW_NOTE))
        self.picker.loaded.connect(self._source_loaded)
        self.picker.message.connect(self.set_note)
        layout.addWidget(self.picker)
        layout.addWidget(model_box)
        layout.addWidget(self._play_box())
        layout.addWidget(self._k_box())
        layout.addWidget(self._sample_box())
        self.data_note = QLabel()
        self.data_note.setWordWrap(True)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setObjectName("note")
        layout.addStretch(1)

    # ----------------------------------------------------------- widgets
    def _model_box(self) -> QGroupBox:
        box = QGroupBox("Mixture")
        form = QFormLayout(box)
        self.k = QSpinBox()
        self.k.setRange(1, 20)
        self.k.setValue(3)
        self.cov = QComboBox()
        self.cov.addItems(COVARIANCES)
        self.init = QComboBox()
        self.init.addItems(INITS)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.reg = QDoubleSpinBox()
        self.reg.setDecimals(8)
        self.reg.setRange(0.0, 1.0)
        self.reg.setValue(1e-6)
        self.reg.setSingleStep(1e-6)
        # Two settings to a row, so the panel fits 1200 x 800 without scrolling.
        form.addRow("K", in_a_row(self.k, QLabel("Covariance"), self.cov))
        self.init.setToolTip("Initialisation of the means: k-means++, random points, ...")
        form.addRow("Init", in_a_row(self.init, QLabel("Seed"), self.seed))
        form.addRow("reg_covar", self.reg)
        return box

    def _play_box(self) -> QGroupBox:
        box = QGroupBox("EM")
        grid = QGridLayout(box)
        buttons = [("Fit", lambda: self.tab.fit()), ("Play", self.tab.play), ("Pause", self.tab.pause),
                   ("Step E", lambda: self.tab.step("E")), ("Step M", lambda: self.tab.step("M"))]
        self.buttons = {}
        for i, (text, slot) in enumerate(buttons):
            button = QPushButton(text)
            button.clicked.connect(slot)
            self.buttons[text] = button
            grid.addWidget(button, i // 3, i % 3)
        self.speed_slider = QSlider(Qt.Orientation.Horizontal)
        self.speed_slider.setRange(1, 60)
        self.speed_slider.setValue(8)
        self.speed_slider.setToolTip("Steps shown per second")
        self.speed_slider.valueChanged.connect(self._speed_changed)
        grid.addWidget(in_a_row(QLabel("Speed"), self.speed_slider), 1, 2)  # beside Step E / Step M
        return box

    def _k_box(self) -> QGroupBox:
        box = QGroupBox("Choose K")
        col = QVBoxLayout(box)
        self.k_button = QPushButton("BIC and AIC for K = 1…10")
        self.k_button.clicked.connect(self.run_choose_k)
        self.k_plot = pg.PlotWidget(background="w", axisItems=integer_axis())
        self.k_plot.setMinimumHeight(120)
        room_for_top_label(self.k_plot)
        self.k_plot.addLegend(offset=(-5, 5))
        self.k_plot.setLabel("bottom", "K")
        self.k_plot.setXRange(0.5, 10.5, padding=0)  # K = 1…10 on the axis before the first run
        self.bic_curve = self.k_plot.plot(pen=pg.mkPen((31, 119, 180), width=2), symbol="o", symbolSize=5, name="BIC")
        self.aic_curve = self.k_plot.plot(pen=pg.mkPen((255, 127, 14), width=2), symbol="s", symbolSize=5, name="AIC")
        self.best_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((44, 160, 44), width=2))
        self.best_line.setVisible(False)
        self.k_plot.addItem(self.best_line)
        self.k_result = QLabel()
        self.k_result.setWordWrap(True)
        col.addWidget(self.k_button)
        col.addWidget(self.k_plot)
        col.addWidget(self.k_result)
        return box

    def _sample_box(self) -> QGroupBox:
        box = QGroupBox("Use the fit")
        grid = QGridLayout(box)
        self.n_samples = QSpinBox()
        self.n_samples.setRange(1, 100_000)
        self.n_samples.setValue(300)
        sample = QPushButton("Sample")
        sample.clicked.connect(self.sample)
        self.prior_button = QPushButton("Use as latent prior")
        self.prior_button.setToolTip("Fit on VAE latent codes, then sample and decode it in the Latent explorer")
        self.prior_button.setEnabled(False)
        self.prior_button.clicked.connect(self._use_as_prior)
        grid.addWidget(QLabel("N"), 0, 0)
        grid.addWidget(self.n_samples, 0, 1)
        grid.addWidget(sample, 0, 2)
        grid.addWidget(self.prior_button, 1, 0, 1, 3)
        return box

    # ------------------------------------------------------------ sources
    def load_initial_source(self) -> None:
        """Old Faithful when the data folder has it, else a generated mixture."""
        self.picker.load_initial()

    def cancel_load(self) -> None:
        """Drop a pending data load (the user moved on to other data)."""
        self.picker.cancel()

    def _drawing(self, on: bool) -> None:
        self.tab.view.drawing = on
        self.prior_button.setEnabled(False)

    def _source_loaded(self, pset) -> None:
        self.tab.set_points(pset.points, pset.note, from_loader=True)
        self.tab.view.set_axis_names(*pset.axes)
        self._is_latent = self.picker.is_latent()
        self.tab.fit()

    def add_drawn_point(self, x: float, y: float, dragging: bool) -> None:
        """Drawing mode: a click adds a point, a drag sprays a few."""
        points = with_drawn_point(self.tab.points, x, y, dragging, self.tab.view)
        self.tab.set_points(points, f"{len(points)} drawn points. Press Fit.")
        self.tab.view.set_points(points[self.tab.display], lock_range=False)

    # -------------------------------------------------------------- model
    def make_model(self, n_points: int) -> GaussianMixture | None:
        """A GaussianMixture from the settings; a refusal becomes a note."""
        k = self.k.value()
        try:
            if n_points < 1:
                raise GenScopeError("There are no points to fit; load or draw some first.")
            if k > n_points:
                raise GenScopeError(f"Cannot fit {k} components to {n_points} points; choose K ≤ {n_points}.")
            return GaussianMixture(k, covariance_type=self.cov.currentText(), init=self.init.currentText(),
                                   reg_covar=self.reg.value(), seed=self.seed.value(), max_iter=300, tol=1e-6)
        except GenScopeError as exc:
            self.set_note(str(exc))
            return None

    def fit_finished(self, gmm: GaussianMixture, done) -> None:
        state = "converged" if done.converged else "stopped (max iterations)"
        text = f"EM {state} after {done.n_iter} iterations; mean log-likelihood {done.lower_bound:.4f}."
        warnings = list(getattr(gmm, "warnings_", []) or [])
        self.set_note(" ".join([text, *warnings]))
        self.prior_button.setEnabled(getattr(self, "_is_latent", False))

    def run_choose_k(self) -> None:
        points, cov, seed = self.tab.points.copy(), self.cov.currentText(), self.seed.value()
        k_max = min(10, len(points))
        if k_max < 1:
            self.set_note("There are no points; load or draw some first.")
            return
        self.context.worker.submit(lambda: choose_k(points, k_max, cov, seed), name="Choosing K",
                                   on_event=self._k_event, on_error=lambda e: self.set_note(e.text()))

    def _k_event(self, event: object) -> None:
        if isinstance(event, Done):
            ks, bic, aic = event.result
            self.bic_curve.setData(ks, bic)
            self.aic_curve.setData(ks, aic)
            best = int(ks[np.argmin(bic)])
            self.best_line.setValue(best)
            self.best_line.setVisible(True)
            self.k_plot.getPlotItem().getViewBox().autoRange(padding=0.08)
            self.k.setValue(best)
            self.tab.fit()
            self.k_result.setText(f"BIC is lowest at K = {best} (AIC at K = {int(ks[np.argmin(aic)])}); "
                                  f"refitted with K = {best}.")

    def clear_k_choice(self) -> None:
        """New data: the BIC/AIC curves of the old data go."""
        self.bic_curve.setData([], [])
        self.aic_curve.setData([], [])
        self.best_line.setVisible(False)
        self.k_result.setText("")
        self.k_plot.setXRange(0.5, 10.5, padding=0)

    def sample(self) -> None:
        gmm = self.tab.gmm
        if gmm is None or self.tab.em_done is None:
            self.set_note("Fit a mixture first, then sample from it.")
            return
        points, _ = gmm.sample(self.n_samples.value(), seed=self.seed.value())
        self.tab.view.show_samples(np.asarray(points))

    # -------------------------------------------------------------- misc
    # Slots return None on purpose: PySide6 mishandles the reference count of
    # values returned by Python slots (seen as a bool_dealloc crash at exit).
    def _speed_changed(self, _value: int) -> None:
        if self.tab.timer.isActive():
            self.tab.play()

    def _use_as_prior(self) -> None:
        gmm = self.tab.gmm
        dim = int(np.asarray(gmm.means_).shape[1]) if getattr(gmm, "means_", None) is not None else 2
        self.tab.prior_fitted.emit(LatentPrior(gmm, find_bundled("vae").path, dim, "the bundled VAE"))

    def speed(self) -> int:
        return self.speed_slider.value()

    def set_note(self, text: str) -> None:
        """Messages about the fit (or a refusal)."""
        self.note.setText(text)

    def set_data_note(self, text: str) -> None:
        """What the loaded data are: source, skipped rows, subsampling."""
        self.data_note.setText(text)

