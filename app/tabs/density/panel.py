"""The Density lab's side panel: data source, the flow and its training, what the canvas shows, and the
held-out table (MAF against the GMM on the same split)."""

from __future__ import annotations

import math

from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QFormLayout, QGridLayout, QGroupBox, QHeaderView,
                               QLabel, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app.widgets import in_a_row, spin_box
from app.widgets.point_source import PointSourceBox
from app.tabs.density.lab import LabSettings

OVERLAYS = [("density", "Density"), ("contours", "Contours"), ("samples", "Samples"), ("grid", "Warped grid"),
            ("data", "Data")]
ROWS = ["MAF", "GMM"]


class DensityPanel(QWidget):
    """Controls; tells its tab through plain method calls (``self.tab``)."""

    def __init__(self, context, tab) -> None:
        super().__init__()
        self.context, self.tab = context, tab
        flow_box = self._flow_box()  # first: the generated sets take the flow's seed
        self.picker = PointSourceBox(context, "density", seed=self.seed.value)
        self.source = self.picker.source
        layout = QVBoxLayout(self)
        for box in (self.picker, flow_box, self._show_box(), self._table_box()):
            layout.addWidget(box)
        layout.addStretch(1)
        self.setMinimumWidth(300)
        self.setMaximumWidth(380)

    def _flow_box(self) -> QGroupBox:
        box = QGroupBox("Masked autoregressive flow")
        form = QFormLayout(box)
        d = LabSettings()  # the catalog's defaults
        self.layers = spin_box(1, 12, d.layers, tip="Autoregressive maps (MADEs), the ordering reversed between them")
        self.hidden = spin_box(4, 256, d.hidden, 8, tip="Units in each hidden layer of every MADE")
        self.epochs = spin_box(1, 5000, d.epochs, 50, tip="Passes over the training part (80 % of the points)")
        self.lr = spin_box(1e-4, 0.1, d.lr, 1e-3, decimals=4,
                           tip=f"Adam's learning rate (times {d.lr_decay:g} after every epoch)")
        self.seed = spin_box(0, 2**31 - 1, 0, tip="Weights, masks, the held-out split, the batches, the samples")
        form.addRow("Layers", in_a_row(self.layers, QLabel("Hidden"), self.hidden))
        form.addRow("Epochs", in_a_row(self.epochs, QLabel("lr"), self.lr))
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Train a MAF on the points (80 %), holding 20 % out for the table below")
        self.train_button.clicked.connect(lambda: self.tab.train())
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(lambda: self.tab.stop())
        form.addRow("Seed", self.seed)
        form.addRow(in_a_row(self.train_button, self.stop_button))
        self.progress = QLabel("Not trained yet.")
        form.addRow(self.progress)
        return box

    def _show_box(self) -> QGroupBox:
        box = QGroupBox("Show")
        grid = QGridLayout(box)
        self.overlays: dict[str, QCheckBox] = {}
        for i, (name, text) in enumerate(OVERLAYS):
            check = QCheckBox(text)
            check.setChecked(True)
            check.toggled.connect(lambda on, name=name: self.tab.view.set_layer_visible(name, on))
            self.overlays[name] = check
            grid.addWidget(check, i // 3, i % 3)
        return box

    def _table_box(self) -> QGroupBox:
        box = QGroupBox("Held-out log-likelihood per point (nats)")
        col = QVBoxLayout(box)
        self.table = QTableWidget(len(ROWS), 3)
        self.table.setHorizontalHeaderLabels(["model", "train", "held-out"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for row, name in enumerate(ROWS):
            self.table.setItem(row, 0, QTableWidgetItem(name))
        height = self.table.horizontalHeader().sizeHint().height() + len(ROWS) * self.table.verticalHeader()\
            .defaultSectionSize() + 2 * self.table.frameWidth()
        self.table.setFixedHeight(height)
        self.table_note = QLabel("Both exact, in the data's units, on the same 80 / 20 split.")
        self.table_note.setWordWrap(True)
        col.addWidget(self.table)
        col.addWidget(self.table_note)
        return box

    # ------------------------------------------------------------ state
    def settings(self) -> LabSettings:
        return LabSettings(layers=self.layers.value(), hidden=self.hidden.value(), epochs=self.epochs.value(),
                           lr=self.lr.value(), seed=self.seed.value())

    def set_training(self, running: bool) -> None:
        self.train_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def set_row(self, row: str, label: str, train_ll: float | None, test_ll: float | None) -> None:
        """One row of the table: the model's label and its two log-likelihoods (None: blank)."""
        r = ROWS.index(row)
        cells = [label] + ["" if v is None or not math.isfinite(v) else f"{v:.4f}" for v in (train_ll, test_ll)]
        for c, text in enumerate(cells):
            self.table.setItem(r, c, QTableWidgetItem(text))

    def clear_table(self) -> None:
        for row in ROWS:
            self.set_row(row, row, None, None)
