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
from engine.catalog import presets, run_model

#: model choice -> (kind, fixed hyper-parameters); defaults, data sets and controls per kind in engine.catalog.
MODELS = presets()
#: data choice -> engine data set name ("mnist-pick" asks for a folder, then trains on "mnist").
DATASETS = {"MNIST (data folder)": "mnist", "MNIST from another folder…": "mnist-pick",
            "Static binarized MNIST": "binarized_mnist", "Generated shapes (offline)": "generated",
            "Spoken digits, FSDD (data folder)": "fsdd", "Generated tones (offline)": "generated_audio",
            "Shakespeare (data folder)": "shakespeare", "A text file or folder…": "text-pick",
            # 2-D point sets (MAF, IAF), standardized; the held-out 20 % is the GMM fitter's split too
            "Two moons (generated points)": "moons", "Old Faithful (data folder)": "faithful",
            "Rings (generated points)": "rings", "Spiral (generated points)": "spiral",
            "Gaussian blobs (generated points)": "blobs", "VAE latent codes (bundled)": "latent_codes",
            "MNIST PCA-2 (data folder)": "mnist_pca2"}
#: choices that ask for a path first -> the engine data set they train on
PICKED = {"mnist-pick": "mnist", "text-pick": "text"}


def _engine_name(data: str) -> str:
    return PICKED.get(data, data)


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
        layout.addWidget(self._runs_box(), 1)  # the runs list takes the height left over
        self.use_model_defaults(self.model.currentText())

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
        self.limit = spin_box(0, 10_000_000, 0, 1000, tip="Train on the first N images only (0: all of them)")
        self.limit.setSpecialValueText("all")
        self.threads = spin_box(0, 256, 0, tip="torch CPU threads for training (auto: one per core); "
                                "1 is much faster when the cores are busy with other work")
        self.threads.setSpecialValueText("auto")
        form.addRow("Model", self.model)
        form.addRow("Data", self.data)
        # The numbers two to a row, so the whole panel fits 1200 x 800 without scrolling.
        pairs = QGridLayout()
        pairs.setHorizontalSpacing(6)
        for i, (label, widget) in enumerate((("Images", self.limit), ("Epochs", self.epochs),
                                             ("Batch", self.batch), ("LR", self.lr), ("Seed", self.seed),
                                             ("Threads", self.threads), ("Samples every", self.sample_every),
                                             ("Checkpoint every", self.checkpoint_every))):
            name = QLabel(label)
            if widget is self.limit:
                self.limit_label = name  # "Rows" for a text model (use_model_defaults)
            name.setBuddy(widget)
            name.setToolTip(widget.toolTip())
            pairs.addWidget(name, i // 2, 2 * (i % 2))
            pairs.addWidget(widget, i // 2, 2 * (i % 2) + 1)
        pairs.setColumnStretch(1, 1)
        pairs.setColumnStretch(3, 1)
        form.addRow(pairs)
        self.model.currentTextChanged.connect(self.use_model_defaults)
        return box

    def use_model_defaults(self, label: str) -> None:
        """Form defaults, the data sets it can train on and its live controls for model choice ``label``."""
        entry = run_model(MODELS[label][0])
        s = entry.settings
        for spin, name in ((self.epochs, "epochs"), (self.batch, "batch_size"), (self.lr, "lr"),
                           (self.sample_every, "sample_every"), (self.checkpoint_every, "checkpoint_every")):
            spin.setValue(s[name])
        self.limit.setValue(entry.data.get("limit") or 0)
        unit = "rows of characters" if entry.samples == "text" else "points" if entry.samples == "points" else "images"
        self.limit_label.setText({"rows of characters": "Rows"}.get(unit, unit.capitalize()))
        self.limit.setToolTip(f"Train on the first N {unit} only (0: all of them)")
        current = self.data.currentText()
        usable = [text for text, name in DATASETS.items() if _engine_name(name) in entry.datasets]
        self.data.blockSignals(True)
        self.data.clear()
        self.data.addItems(usable)
        default = next(t for t in usable if DATASETS[t] == entry.datasets[0])
        self.data.setCurrentText(current if current in usable else default)
        self.data.blockSignals(False)
        self.allow_controls(entry.controls)

    def allow_controls(self, names) -> None:
        """Enable the live-change widgets of the settings in ``names`` ("lr", "beta"); grey out the others."""
        for name, what, widgets in (("lr", "learning rate", (self.new_lr, self.apply_lr)),
                                    ("beta", "β", (self.new_beta, self.apply_beta))):
            for widget in widgets:
                widget.setEnabled(name in names)
                widget.setToolTip("" if name in names else f"This model has no {what} to change.")

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
        status = QHBoxLayout()
        status.addWidget(self.progress, 1)
        status.addWidget(self.eta, 2)
        col.addLayout(status)
        return box

    def _live_box(self) -> QGroupBox:
        box = QGroupBox("Change while training (applied at the next step)")
        grid = QGridLayout(box)
        self.new_lr = spin_box(1e-7, 1.0, 1e-3, 1e-4, 7)
        self.apply_lr = QPushButton("Set LR")
        self.apply_lr.setToolTip("Use this learning rate from the next step on")
        self.new_beta = spin_box(0.01, 100.0, 1.0, 0.5, 2)
        self.apply_beta = QPushButton("Set β")
        for column, widget in enumerate((self.new_lr, self.apply_lr, self.new_beta, self.apply_beta)):
            grid.addWidget(widget, 0, column)
        return box

    def _view_box(self) -> QWidget:
        box = QWidget()  # one row, no frame: the form fits 1200 x 800 without scrolling
        grid = QGridLayout(box)
        grid.setContentsMargins(9, 0, 9, 0)
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setToolTip("EMA smoothing of the per-step curves (validation points are never smoothed)")
        self.log_x = QCheckBox("log x")
        self.log_y = QCheckBox("log y")
        grid.addWidget(QLabel("Curve smoothing"), 0, 0)
        grid.addWidget(self.smoothing, 0, 1)
        grid.addWidget(self.log_x, 0, 2)
        grid.addWidget(self.log_y, 0, 3)
        return box

    def _runs_box(self) -> QGroupBox:
        box = QGroupBox("Runs")
        col = QVBoxLayout(box)
        self.runs_root = QLabel()
        self.runs_root.setWordWrap(True)
        self.runs = QListWidget()
        self.runs.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.runs.setMinimumHeight(60)
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
            "limit": self.limit.value() or None, "threads": self.threads.value() or None,
            "epochs": self.epochs.value(), "batch_size": self.batch.value(), "lr": self.lr.value(),
            "seed": self.seed.value(), "sample_every": self.sample_every.value(),
            "checkpoint_every": self.checkpoint_every.value(),
        }
