"""The training monitor's form: model, data, settings, run controls, runs list."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)
from PySide6.QtCore import Qt

from app.widgets import spin_box

#: model choice -> (kind, fixed hyper-parameters); defaults per model below.
MODELS = {
    "VAE (2-D latent)": ("vae", {"latent_dim": 2, "beta": 1.0}),
    "β-VAE (2-D latent)": ("vae", {"latent_dim": 2, "beta": 4.0}),
    "Autoencoder (2-D latent)": ("autoencoder", {"latent_dim": 2}),
    "VAE (32-D latent)": ("vae", {"latent_dim": 32, "beta": 1.0}),
}
DATASETS = {"MNIST (data folder)": "mnist", "MNIST from another folder…": "mnist-pick",
            "Static binarized MNIST": "binarized_mnist", "Generated shapes (offline)": "generated"}


class TrainingPanel(QWidget):
    """Widgets only; the tab wires them."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumWidth(320)
        layout = QVBoxLayout(self)
        layout.addWidget(self._setup_box())
        layout.addWidget(self._control_box())
        layout.addWidget(self._live_box())
        layout.addWidget(self._view_box())
        layout.addWidget(self._runs_box())
        layout.addStretch(1)

    def _setup_box(self) -> QGroupBox:
        box = QGroupBox("New run")
        form = QFormLayout(box)
        self.model = QComboBox()
        self.model.addItems(list(MODELS))
        self.data = QComboBox()
        self.data.addItems(list(DATASETS))
        self.epochs = spin_box(1, 1000, 5)
        self.batch = spin_box(1, 4096, 128)
        self.lr = spin_box(1e-6, 1.0, 1e-3, 1e-4, 6, "Adam learning rate")
        self.seed = spin_box(0, 2**31 - 1, 0)
        self.sample_every = spin_box(10, 100_000, 200, 50, tip="Steps between sample snapshots")
        self.checkpoint_every = spin_box(10, 100_000, 500, 50, tip="Steps between checkpoints")
        for label, widget in (("Model", self.model), ("Data", self.data), ("Epochs", self.epochs),
                              ("Batch size", self.batch), ("Learning rate", self.lr), ("Seed", self.seed),
                              ("Samples every", self.sample_every), ("Checkpoint every", self.checkpoint_every)):
            form.addRow(label, widget)
        return box

    def _control_box(self) -> QGroupBox:
        box = QGroupBox("Run")
        col = QVBoxLayout(box)
        row = QHBoxLayout()
        self.buttons = {}
        for text in ("Start", "Pause", "Resume", "Stop"):
            self.buttons[text] = QPushButton(text)
            row.addWidget(self.buttons[text])
        col.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setFormat("%p%")
        self.eta = QLabel("Idle")
        self.eta.setWordWrap(True)
        col.addWidget(self.progress)
        col.addWidget(self.eta)
        return box

    def _live_box(self) -> QGroupBox:
        box = QGroupBox("Change while training (applied at the next step)")
        grid = QGridLayout(box)
        self.new_lr = spin_box(1e-7, 1.0, 1e-3, 1e-4, 7)
        self.apply_lr = QPushButton("Set learning rate")
        self.new_beta = spin_box(0.01, 100.0, 1.0, 0.5, 2)
        self.apply_beta = QPushButton("Set β")
        grid.addWidget(self.new_lr, 0, 0)
        grid.addWidget(self.apply_lr, 0, 1)
        grid.addWidget(self.new_beta, 1, 0)
        grid.addWidget(self.apply_beta, 1, 1)
        return box

    def _view_box(self) -> QGroupBox:
        box = QGroupBox("Curves")
        grid = QGridLayout(box)
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setToolTip("EMA smoothing of the per-step curves (validation points are never smoothed)")
        self.log_x = QCheckBox("log x")
        self.log_y = QCheckBox("log y")
        grid.addWidget(QLabel("Smoothing"), 0, 0)
        grid.addWidget(self.smoothing, 0, 1, 1, 2)
        grid.addWidget(self.log_x, 1, 1)
        grid.addWidget(self.log_y, 1, 2)
        return box

    def _runs_box(self) -> QGroupBox:
        box = QGroupBox("Runs")
        col = QVBoxLayout(box)
        self.runs_root = QLabel()
        self.runs_root.setWordWrap(True)
        self.runs = QListWidget()
        self.runs.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.runs.setMinimumHeight(110)
        row = QHBoxLayout()
        self.refresh = QPushButton("Refresh")
        self.overlay = QPushButton("Overlay")
        self.resume_run = QPushButton("Resume run")
        self.use_in_explorer = QPushButton("Use in explorer")
        for button in (self.refresh, self.overlay, self.resume_run, self.use_in_explorer):
            row.addWidget(button)
        col.addWidget(self.runs_root)
        col.addWidget(self.runs)
        col.addLayout(row)
        return box

    def settings(self) -> dict:
        """The form as a plain dict (validated by the engine when the run starts)."""
        kind, fixed = MODELS[self.model.currentText()]
        return {
            "kind": kind, "hparams": dict(fixed), "data": DATASETS[self.data.currentText()],
            "epochs": self.epochs.value(), "batch_size": self.batch.value(), "lr": self.lr.value(),
            "seed": self.seed.value(), "sample_every": self.sample_every.value(),
            "checkpoint_every": self.checkpoint_every.value(),
        }
