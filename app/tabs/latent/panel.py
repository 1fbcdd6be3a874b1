"""Side panel of the latent explorer: model, live decode, overlays, pins,
interpolation, prior samples and the digit inspector."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.widgets import spin_box
from app.widgets.image_view import DrawPad, ImageLabel
from app.tabs.latent.latent_map import MAX_PINS


class LatentPanel(QWidget):
    """Widgets only; the tab connects them (see LatentExplorerTab._connect)."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumWidth(330)
        self.setMaximumWidth(420)
        layout = QVBoxLayout(self)
        layout.addWidget(self._model_box())
        layout.addWidget(self._overlay_box())
        layout.addWidget(self._pins_box())
        layout.addWidget(self._sample_box())
        self.inspect = self._inspect_box()  # placed under the map by the tab: the side panel fits 1200 x 800
        self.learned = self._learned_box()  # under the map too, beside the inspector
        self.note = QLabel()  # placed under the map by the tab, so it is always in view
        self.note.setWordWrap(True)
        layout.addStretch(1)

    def _model_box(self) -> QGroupBox:
        box = QGroupBox("Model and decode under the cursor")
        grid = QGridLayout(box)
        self.model = QComboBox()
        self.model.setToolTip("Switch the model; File › Open checkpoint adds your own")
        self.decoded = ImageLabel(150, "The decoder's mean image p(x|z) at the cursor")
        self.cursor_label = QLabel("Move the mouse over the map")
        self.cursor_label.setWordWrap(True)
        grid.addWidget(self.model, 0, 0, 1, 2)
        grid.addWidget(self.decoded, 1, 0)
        grid.addWidget(self.cursor_label, 1, 1)
        return box

    def _overlay_box(self) -> QGroupBox:
        box = QGroupBox("Overlays")
        grid = QGridLayout(box)
        self.show_points = QCheckBox("Test digits")
        self.show_points.setChecked(True)
        self.show_ellipses = QCheckBox("q(z|x) 1σ ellipses")
        self.show_prior = QCheckBox("Prior p(z) contours")
        self.show_density = QCheckBox("Encoded-data density")
        self.show_density.setToolTip("Fog where no training digit was encoded: the decoder never learned those places")
        self.show_grid = QCheckBox("Manifold grid")
        self.grid_size = spin_box(5, 30, 15, tip="Decodes per side over the visible region")
        grid.addWidget(self.show_points, 0, 0)
        grid.addWidget(self.show_ellipses, 0, 1)
        grid.addWidget(self.show_prior, 1, 0)
        grid.addWidget(self.show_density, 1, 1)
        grid.addWidget(self.show_grid, 2, 0)
        grid.addWidget(self.grid_size, 2, 1)
        return box

    def _pins_box(self) -> QGroupBox:
        box = QGroupBox(f"Pins (click the map; up to {MAX_PINS}) and interpolation")
        col = QVBoxLayout(box)
        self.thumbs_row = QHBoxLayout()
        self.thumbs = [ImageLabel(34) for _ in range(MAX_PINS)]
        for thumb in self.thumbs:
            thumb.setVisible(False)
            self.thumbs_row.addWidget(thumb)
        self.thumbs_row.addStretch(1)
        col.addLayout(self.thumbs_row)
        row = QHBoxLayout()
        self.interp_mode = QComboBox()
        self.interp_mode.addItems(["linear", "spherical"])
        self.interp_steps = spin_box(3, 20, 10, tip="Images in the strip")
        self.clear_pins = QPushButton("Clear")
        self.export_strip = QPushButton("Export PNG…")
        for widget in (self.interp_mode, self.interp_steps, self.clear_pins, self.export_strip):
            row.addWidget(widget)
        col.addLayout(row)
        self.strip = ImageLabel(30, "Decodes along the path between the last two pins")
        self.strip.setMinimumHeight(56)
        col.addWidget(self.strip)
        return box

    def _sample_box(self) -> QGroupBox:
        box = QGroupBox("Sample from the prior")
        grid = QGridLayout(box)
        self.n_samples = spin_box(1, 400, 16)
        self.prior_choice = QComboBox()
        self.prior_choice.addItem("N(0, I)")
        self.prior_choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.prior_choice.setToolTip("Fit a mixture on the VAE codes in the GMM fitter, or a flow (under the map), to add it here")
        self.sample_button = QPushButton("Sample")
        self.samples_view = ImageLabel(110, "Decoded prior samples")
        self.prior_note = QLabel()  # says when the model has no prior (the autoencoder)
        self.prior_note.setWordWrap(True)
        self.prior_note.setVisible(False)
        grid.addWidget(QLabel("N"), 0, 0)
        grid.addWidget(self.n_samples, 0, 1)
        grid.addWidget(self.prior_choice, 0, 2)
        grid.addWidget(self.sample_button, 0, 3)
        grid.addWidget(self.prior_note, 1, 0, 1, 4)
        grid.addWidget(self.samples_view, 2, 0, 1, 4)
        return box

    def _learned_box(self) -> QGroupBox:
        box = QGroupBox("Learned prior (a MAF)")
        grid = QGridLayout(box)
        self.fit_flow = QPushButton("Fit a flow prior")
        self.fit_flow.setToolTip("Train a MAF on draws of q(z|x) for the training images: samples of the "
                                 "aggregate posterior (on the worker)")
        self.use_flow = QPushButton("Use as latent prior")
        self.use_flow.setToolTip("Add the fitted flow to the prior list of this model, with its contours")
        self.use_flow.setEnabled(False)
        self.table_button = QPushButton("Prior table")
        self.table_button.setToolTip("Test ELBO and importance-sampled log p(x) under N(0, I), the best-BIC "
                                     "mixture and the flow (fits both on the training codes)")
        self.flow_status = QLabel("No flow fitted for this model.")
        self.flow_status.setWordWrap(True)
        self.table = QLabel("")
        self.table.setTextFormat(Qt.TextFormat.RichText)
        self.table.setWordWrap(True)
        for row, button in enumerate((self.fit_flow, self.use_flow, self.table_button)):  # a column: narrow
            grid.addWidget(button, row, 0)
        right = QVBoxLayout()
        right.addWidget(self.flow_status)
        right.addWidget(self.table)
        right.addStretch(1)
        grid.addLayout(right, 0, 1, 4, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(3, 1)
        return box

    def _inspect_box(self) -> QGroupBox:
        box = QGroupBox("Inspect a digit (Ctrl+click a point, or draw)")
        col = QVBoxLayout(box)
        self.pad = DrawPad(scale=4)
        self.input_view = ImageLabel(56, "Input (binarised for the Bernoulli models)")
        self.recon_view = ImageLabel(56, "Reconstruction: decode of the posterior mean")
        form = QFormLayout()
        self.k = spin_box(1, 5000, 1000, tip="Importance samples for log p(x)")
        form.addRow("k", self.k)
        self.report = QLabel("—")
        self.report.setWordWrap(True)
        self.k.setMaximumWidth(100)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addWidget(self.report, 1)
        row = QHBoxLayout()
        row.addLayout(titled("Draw here", self.pad))
        row.addLayout(titled("Input", self.input_view))
        row.addLayout(titled("Reconstruction", self.recon_view))
        row.addLayout(right, 1)
        col.addLayout(row)
        return box


def titled(title: str, widget: QWidget) -> QVBoxLayout:
    """``widget`` under a small title (the inspector's black boxes say what they are)."""
    col = QVBoxLayout()
    col.setSpacing(2)
    label = QLabel(title)
    label.setToolTip(widget.toolTip())
    col.addWidget(label)
    col.addWidget(widget)
    col.addStretch(1)  # boxes of different heights in one row line up at the top
    return col
