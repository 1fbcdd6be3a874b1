"""Widgets of the Sampler's text mode: the side panel (model, decoding strategy, write controls) and, over the
text, the prompt box and the likelihood lens's text box.

Widgets only, plus reading them into engine settings; the page
(:mod:`app.tabs.sampler.text`) wires them.
"""

from __future__ import annotations

import random

from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.tabs.sampler.compare_list import CompareList, run_grid
from app.tabs.sampler.strategy_box import StrategyBox, model_box
from app.tabs.sampler.text_views import mono_font
from app.widgets import spin_box
from engine.sampling.decoding import Strategy, make_strategy
from engine.sampling.text_compare import MAX_NEW_CHARS

MODES = ["Single text", "Compare strategies"]
SPEEDS = [("10 characters/s", 10), ("30 characters/s", 30), ("100 characters/s", 100), ("400 characters/s", 400),
          ("As fast as it goes", None)]
DEFAULT_PROMPT = "ROMEO:\n"
EXAMPLES = {
    "Modern English": "The meeting has been moved to Thursday afternoon, so please update your calendar and "
                      "let the team know before the end of the day.",
    "Another language (Latin)": "Gallia est omnis divisa in partes tres, quarum unam incolunt Belgae, aliam "
                                "Aquitani, tertiam qui ipsorum lingua Celtae, nostra Galli appellantur.",
}
LENS_SOURCES = ["Type or paste your own", "Shakespeare: Macbeth (a test play)", *EXAMPLES, "Shuffle the words above"]


class TextPanel(QWidget):
    """The side panel: model, strategy, write controls; nothing here touches a model."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumWidth(320)
        self.setMaximumWidth(400)
        layout = QVBoxLayout(self)
        for box in (self._model_box(), self._strategy_box(), self._write_box()):
            layout.addWidget(box)
        layout.addStretch(1)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self._mode_changed(0)

    def _model_box(self) -> QGroupBox:
        box = model_box(self, "The bundled character Transformer; File › Open checkpoint adds your own")
        self.model_info.setText("No text model loaded yet.")
        return box

    def _strategy_box(self) -> StrategyBox:
        box = StrategyBox(seed_tip="Same seed, same text")
        box.params["top_p"].setText("0.9")
        box.params["min_p"].setText("0.05")
        self.strategy_box, self.strategy_name, self.params = box, box.strategy_name, box.params
        self.seed, self.strategy_error = box.seed, box.error
        return box

    def _write_box(self) -> QGroupBox:
        box = QGroupBox("Write")
        grid = QGridLayout(box)
        self.mode = QComboBox()
        self.mode.addItems(MODES)
        self.compare = CompareList(self.strategy_box, [
            make_strategy("greedy"), make_strategy("top-p", top_p=0.9), make_strategy("temperature", temperature=1.2)],
            what="written")
        self.speed = QComboBox()
        self.speed.addItems([name for name, _ in SPEEDS])
        self.speed.setCurrentIndex(1)
        self.length = spin_box(1, MAX_NEW_CHARS, 400, 50, tip="How many characters to write after the prompt")
        self.buttons = {name: QPushButton(name) for name in ("Start", "Pause", "Step", "Stop")}
        self.buttons["Step"].setToolTip("Write exactly one more character (of every text), then hold")
        run_grid(grid, (("Mode", self.mode), ("Speed", self.speed), ("Characters", self.length)), self.compare,
                 self.buttons)
        return box

    def _mode_changed(self, index: int) -> None:
        self.compare.set_enabled(MODES[index] == "Compare strategies")

    def strategies(self) -> list[Strategy]:
        """The strategies to write with: the chosen one, or the comparison's (raises ConfigError with a reason)."""
        if self.mode.currentText() == "Compare strategies":
            return list(self.compare.strategies)
        return [self.strategy_box.strategy()]

    def speed_limit(self) -> float | None:
        """Characters per second, or None for as fast as it goes."""
        return SPEEDS[self.speed.currentIndex()][1]


class TextInputs(QTabWidget):
    """Over the text: the prompt box, and the likelihood lens (a text box, examples, Score, the result)."""

    def __init__(self) -> None:
        super().__init__()
        self.prompt = QPlainTextEdit(DEFAULT_PROMPT)
        self.prompt.setFont(mono_font())
        self.prompt.setToolTip("The text the model continues (any length; characters outside its vocabulary are "
                               "refused)")
        self.addTab(self.prompt, "Prompt")
        self.addTab(self._lens(), "Likelihood lens")
        self.setMaximumHeight(118)

    def _lens(self) -> QWidget:
        page = QWidget()
        grid = QGridLayout(page)
        grid.setContentsMargins(4, 4, 4, 4)
        self.lens_text = QPlainTextEdit()
        self.lens_text.setFont(mono_font())
        self.lens_text.setPlaceholderText("Paste or type any text, then Score: its exact log p under the model")
        self.lens_source = QComboBox()
        self.lens_source.addItems(LENS_SOURCES)
        self.lens_source.setToolTip("Fill the box with an example (or shuffle the words in it)")
        self.lens_source.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.lens_source.setMinimumContentsLength(12)  # the window's minimum width stays the other pages'

        self.score = QPushButton("Score")
        self.score.setToolTip("Exact log p of the text in the box, and each character's surprisal")
        self.lens_result = QLabel("Score a text to see its exact log p and bits per character.")
        self.lens_result.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.lens_source, 1)
        row.addWidget(self.score)
        grid.addWidget(self.lens_text, 0, 0, 2, 1)
        grid.addLayout(row, 0, 1)
        grid.addWidget(self.lens_result, 1, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        return page

    def prompt_text(self) -> str:
        return self.prompt.toPlainText()


def shuffled_words(text: str, seed: int = 0) -> str:
    """The words of ``text`` in a shuffled order (fixed seed), joined by single spaces."""
    words = text.split()
    random.Random(seed).shuffle(words)
    return " ".join(words)
