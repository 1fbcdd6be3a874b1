"""The data-source picker shared by the GMM fitter and the Density lab: where the 2-D points come from.

Sources: Old Faithful, a generated mixture of blobs, two moons, rings, a spiral, the bundled VAE's latent
codes, MNIST PCA-2, a CSV file, or points drawn on the canvas. Loading runs on the context's main worker
(``engine.data.points2d``); the box tells its tab through signals and never touches the tab itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QFormLayout, QGroupBox, QLabel, QLineEdit, QPushButton, QSpinBox

from app.widgets import in_a_row
from app.worker import once
from engine.data import points2d
from engine.events import Done

DRAW, CSV, LATENT = "Draw points", "CSV file…", "VAE latent codes"
SOURCES = ["Old Faithful", "Generated mixture", "Two moons", "Rings", "Spiral", LATENT, "MNIST PCA-2", CSV, DRAW]
#: What the generated row's count means for each generated source (None: the count is not used).
COUNTED = {"Generated mixture": "blobs", "Two moons": None, "Rings": "rings", "Spiral": None}


class PointSourceBox(QGroupBox):
    """"Data": the source, the generated sets' size, CSV columns, and Clear for drawing.

    Signals (GUI thread): ``drawing(bool)`` on every pick, True for "Draw points"; ``cleared()`` when the
    canvas should start empty (Draw points picked, or Clear pressed); ``loaded(PointSet)`` when a load
    finished; ``message(str)`` for "Loading …" and for a load's failure, one sentence.
    ``seed()`` gives the seed of the generated sets (the tab's own seed box).
    """

    drawing = Signal(bool)
    cleared = Signal()
    loaded = Signal(object)
    message = Signal(str)

    def __init__(self, context, key: str, seed: Callable[[], int] = lambda: 0) -> None:
        super().__init__("Data")
        self.context, self.key, self.seed = context, key, seed
        self.job = None
        self.loaded_name = ""  # what the last load read, for sentences: the source, or the CSV file's name
        form = QFormLayout(self)
        self.source = QComboBox()
        self.source.addItems(SOURCES)
        self.source.activated.connect(lambda _: self.load())
        self.n_points = QSpinBox()
        self.n_points.setRange(10, 200_000)
        self.n_points.setValue(1500)
        self.n_points.setSingleStep(500)
        self.true_k = QSpinBox()
        self.true_k.setRange(1, 10)
        self.true_k.setValue(4)
        self.k_name = QLabel("blobs")
        self.k_name.setMinimumWidth(self.k_name.fontMetrics().horizontalAdvance("blobs") + 4)
        self.columns = QLineEdit()
        self.columns.setPlaceholderText("first two numeric columns")
        self.clear_button = QPushButton("Clear points")
        self.clear_button.clicked.connect(self.cleared.emit)
        self.source.currentTextChanged.connect(self._name_the_count)
        form.addRow("Source", self.source)
        form.addRow("Generated", in_a_row(self.n_points, QLabel("points,"), self.true_k, self.k_name))
        form.addRow("CSV columns", self.columns)
        form.addRow(self.clear_button)

    def load_initial(self) -> None:
        """Old Faithful when the data folder has it, else a generated mixture."""
        from engine.data.registry import DATASETS

        data = self.context.data
        if not (data.exists and DATASETS["faithful"].is_present(data.path)):
            self.source.setCurrentText("Generated mixture")
        self.load()

    def load(self) -> None:
        """Load the chosen source through the worker (a CSV asks for its file first)."""
        name = self.source.currentText()
        self.drawing.emit(name == DRAW)
        if name == DRAW:
            self.cancel()
            self.cleared.emit()
            return
        loader = self._loader(name)
        if loader is None:
            return
        self.message.emit(f"Loading {name}…")
        self.job = self.context.worker.submit(
            lambda: once(loader), name=f"Loading {name}", key=f"{self.key}-source", cancel_running=True,
            on_event=self._done, on_error=self._failed)

    def is_latent(self) -> bool:
        """The shown source is the VAE's latent codes (a fit on them can be a latent prior)."""
        return self.source.currentText() == LATENT

    def cancel(self) -> None:
        """Drop a pending load (the user moved on to other data)."""
        if self.job is not None:
            self.job.cancel()
            self.job = None

    def _loader(self, name: str) -> Callable[[], points2d.PointSet] | None:
        root, n, k, seed = self.context.data.path, self.n_points.value(), self.true_k.value(), self.seed()
        loaders = {"Old Faithful": lambda: points2d.faithful(root),
                   "Generated mixture": lambda: points2d.generated(n, k, seed),
                   "Two moons": lambda: points2d.two_moons(n, seed=seed),
                   "Rings": lambda: points2d.rings(n, tuple(range(1, k + 1)), seed=seed),
                   "Spiral": lambda: points2d.spiral(n, seed=seed),
                   LATENT: lambda: points2d.latent_codes("vae"),
                   "MNIST PCA-2": lambda: points2d.mnist_pca2(root)}
        if name in loaders:
            self.loaded_name = name
            return loaders[name]
        path, _ = QFileDialog.getOpenFileName(self, "Open CSV", "", "CSV files (*.csv *.txt);;All files (*)")
        if not path:
            return None
        columns = [c.strip() for c in self.columns.text().split(",") if c.strip()] or None
        self.loaded_name = Path(path).name
        return lambda: points2d.csv_points(path, columns)

    def _done(self, event: object) -> None:
        if isinstance(event, Done):
            self.job = None
            self.loaded.emit(event.result)

    def _failed(self, error) -> None:
        self.job = None
        self.message.emit(error.text())

    def _name_the_count(self, name: str) -> None:
        counted = COUNTED.get(name, "blobs")
        self.k_name.setText(counted or "—")
        self.true_k.setEnabled(counted is not None)
