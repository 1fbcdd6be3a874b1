"""Side panel of the Sampler's image mode: model, decoding strategy, run controls, digit, completion, lens.

Widgets only, plus reading them into engine settings (:meth:`strategy`,
:meth:`kept_mask`); the page (:mod:`app.tabs.sampler.image`) wires them.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QCheckBox,
    QGroupBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.widgets import spin_box
from app.widgets.image_view import DrawPad, ImageLabel
from app.tabs.sampler.compare_list import CompareList, run_grid
from app.tabs.sampler.completion import dots_mask, ring_mask
from app.tabs.sampler.strategy_box import StrategyBox, model_box
from engine.sampling.decoding import Strategy, make_strategy
from engine.sampling.compare import MAX_IMAGES
from engine.sampling.pixelcnn import completion_mask

MODES = ["Single image", "Batch grid", "Compare strategies"]
SPEEDS = [("25 pixels/s", 25), ("100 pixels/s", 100), ("400 pixels/s", 400), ("1600 pixels/s", 1600),
          ("As fast as possible", None)]
KEEP = {"Top half": "top", "Bottom half": "bottom", "Left half": "left", "Right half": "right",
        "Ring": "ring", "Scattered dots": "dots", "Pixels marked on the pad": "drawn"}
PRESETS = {"ring": ring_mask, "dots": dots_mask}
LENS_SOURCES = ["The digit above", "Inverted digit", "Rotated digit", "Noise", "Image file…"]


class ImagePanel(QWidget):
    """Widgets of the image mode; nothing here touches a model."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumWidth(320)
        self.setMaximumWidth(400)
        layout = QVBoxLayout(self)
        for box in (self._model_box(), self._strategy_box(), self._run_box(), self._digit_box(),
                    self._complete_box(), self._lens_box()):
            layout.addWidget(box)
        layout.addStretch(1)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self._mode_changed(0)

    # ----------------------------------------------------------- boxes
    def _model_box(self) -> QGroupBox:
        self.label = spin_box(0, 9, 0, tip="The digit to paint (class-conditional models only)")
        return model_box(self, "The bundled PixelCNNs, NADE and MADEs; File › Open checkpoint adds your own",
                         (("Digit label", self.label),))

    def _strategy_box(self) -> StrategyBox:
        """The shared strategy form (light truncation: top-p 0.9 cuts every rare stroke); 2 to 16 values per pixel,
        so top-k keeps 2 (top-k 1 is greedy: a blank page)."""
        box = StrategyBox(seed_tip="Same seed, same image")
        box.params["top_k"].setText("2")
        self.strategy_box, self.strategy_name, self.params = box, box.strategy_name, box.params
        self.seed, self.strategy_error = box.seed, box.error
        return box

    def _run_box(self) -> QGroupBox:
        box = QGroupBox("Paint")
        grid = QGridLayout(box)
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.n_images = spin_box(1, MAX_IMAGES, 16, tip="Images in the batch grid, or per strategy when comparing")
        self.compare = CompareList(self.strategy_box, [
            make_strategy("sample"), make_strategy("temperature", temperature=0.8), make_strategy("top-p", top_p=0.99),
            make_strategy("greedy")])
        self.compare_list, self.add_compare, self.clear_compare = self.compare.list, self.compare.add, self.compare.clear
        self.speed = QComboBox()
        self.speed.addItems([name for name, _ in SPEEDS])
        self.speed.setCurrentIndex(2)
        self.buttons = {name: QPushButton(name) for name in ("Start", "Pause", "Step", "Stop")}
        self.buttons["Step"].setToolTip("Paint exactly one pixel (of every image), then hold")
        self.export = QPushButton("Export PNG…")
        last = run_grid(grid, (("Mode", self.mode), ("Images", self.n_images), ("Speed", self.speed)), self.compare,
                        self.buttons)
        grid.addWidget(self.export, last, 0, 1, 4)
        return box

    def _digit_box(self) -> QGroupBox:
        box = QGroupBox("Digit to complete or measure")
        grid = QGridLayout(box)
        self.digit_source = QComboBox()
        self.digit_source.addItems(["Test digit", "Drawing"])
        self.index = spin_box(0, 9999, 0, tip="Index in the test set (needs it in the data folder)")
        self.pad = DrawPad(scale=4)
        self.pad.setToolTip("Draw a digit (source: Drawing) or mark the pixels to keep (keep: pixels marked "
                            "on the pad). Right-click clears.")
        self.preview = ImageLabel(84, "The digit; dimmed pixels are the ones a completion paints again")
        grid.addWidget(self.digit_source, 0, 0)
        grid.addWidget(self.index, 0, 1)
        grid.addWidget(self.pad, 1, 0)
        grid.addWidget(self.preview, 1, 1)
        return box

    def _complete_box(self) -> QGroupBox:
        box = QGroupBox("Completion: keep any mask, paint the rest")
        grid = QGridLayout(box)
        self.keep = QComboBox()
        self.keep.addItems(list(KEEP))
        self.keep.setToolTip("Which pixels of the digit are kept; the model paints the others")
        self.times = spin_box(1, 16, 4, tip="How many completions to paint")
        self.complete = QPushButton("Complete")
        self.beside = QCheckBox("Beside the raster PixelCNN")
        self.beside.setChecked(True)
        self.beside.setToolTip("Order-agnostic models: they paint the known pixels first, and the bundled PixelCNN "
                               "completes the same mask from the same seed beside it")
        grid.addWidget(self.keep, 0, 0)
        grid.addWidget(QLabel("×"), 0, 1)
        grid.addWidget(self.times, 0, 2)
        grid.addWidget(self.complete, 0, 3)
        grid.addWidget(self.beside, 1, 0, 1, 4)
        grid.setColumnStretch(0, 1)
        return box

    def _lens_box(self) -> QGroupBox:
        box = QGroupBox("Likelihood lens: exact log p(x)")
        grid = QGridLayout(box)
        self.lens_source = QComboBox()
        self.lens_source.addItems(LENS_SOURCES)
        self.measure = QPushButton("Measure")
        self.lens_result = QLabel("Measure an image against the test set's negative log-likelihoods.")
        self.lens_result.setWordWrap(True)
        grid.addWidget(self.lens_source, 0, 0)
        grid.addWidget(self.measure, 0, 1)
        grid.addWidget(self.lens_result, 1, 0, 1, 2)
        return box

    # --------------------------------------------------------- reading
    def _mode_changed(self, index: int) -> None:
        compare = MODES[index] == "Compare strategies"
        self.compare.set_enabled(compare)
        self.n_images.setEnabled(MODES[index] != "Single image")

    def strategy(self) -> Strategy:
        """The chosen strategy, built and validated by the engine (raises ConfigError with its reason)."""
        return self.strategy_box.strategy()

    @property
    def compare_strategies(self) -> list:
        """The strategies of the comparison (:class:`~app.tabs.sampler.compare_list.CompareList`)."""
        return self.compare.strategies

    def add_current_to_compare(self) -> None:
        self.compare.add_current()

    def clear_comparison(self) -> None:
        self.compare.clear_all()

    def speed_limit(self) -> float | None:
        """Pixels per second, or None for as fast as possible."""
        return SPEEDS[self.speed.currentIndex()][1]

    def kept_mask(self) -> np.ndarray:
        """(28, 28) bool: the pixels a completion keeps."""
        kind = KEEP[self.keep.currentText()]
        if kind == "drawn":
            return self.pad.image >= 0.5
        return PRESETS[kind]() if kind in PRESETS else completion_mask(kind)

