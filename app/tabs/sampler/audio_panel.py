"""Side panel of the Sampler's audio mode: model, conditioning, strategy, length, priming, run controls, clips.

Widgets only; the page (:mod:`app.tabs.sampler.audio`) wires them to the engine.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.widgets import spin_box
from app.tabs.sampler.strategy_box import StrategyBox, model_box
from engine.data.audio import FSDD_SPEAKERS, NOTE_HZ

AUDIO_STRATEGIES = ("sample", "greedy", "temperature", "top-k", "top-p", "min-p")
PRIMES = ["Nothing (start from silence)", "Start of a test recording of this digit", "A sound file…"]
RTF_MAX = 5.0


def condition_names(cond_name: str, classes: int) -> list[str]:
    """What each conditioning class means, for the picker."""
    if cond_name == "speaker":
        return [FSDD_SPEAKERS[i] if i < len(FSDD_SPEAKERS) else f"speaker {i}" for i in range(classes)]
    if cond_name == "note":
        return [f"note {i} ({NOTE_HZ[i]:.0f} Hz)" if i < len(NOTE_HZ) else f"note {i}" for i in range(classes)]
    return [f"digit {i}" for i in range(classes)]


class AudioPanel(QWidget):
    """Widgets of the audio mode; nothing here touches a model."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumWidth(320)
        self.setMaximumWidth(400)
        layout = QVBoxLayout(self)
        self.strategy = StrategyBox(AUDIO_STRATEGIES, "Same seed, same audio")
        for box in (self._model_box(), self.strategy, self._run_box(), self._clips_box()):
            layout.addWidget(box)
        layout.addStretch(1)

    def _model_box(self) -> QGroupBox:
        self.condition = QComboBox()
        self.condition.setToolTip("Global conditioning: which digit (or speaker) the model should say")
        return model_box(self, "The bundled WaveNet; File › Open checkpoint adds your own", (("Say", self.condition),))

    def _run_box(self) -> QGroupBox:
        box = QGroupBox("Generate")
        grid = QGridLayout(box)
        self.seconds = spin_box(0.1, 60.0, 2.0, step=0.5, decimals=1, tip="Seconds of audio to generate")
        self.prime = QComboBox()
        self.prime.addItems(PRIMES)
        self.prime.setToolTip("Feed real audio through the network first; generation continues from it")
        self.prime_seconds = spin_box(0.05, 5.0, 0.25, step=0.05, decimals=2, tip="Seconds of the priming audio")
        self.buttons = {name: QPushButton(name) for name in ("Start", "Pause", "Stop")}
        self.save = QPushButton("Save WAV…")
        self.rtf = QProgressBar()
        self.rtf.setRange(0, int(RTF_MAX * 100))
        self.rtf.setFormat("speed: –")
        self.rtf.setAlignment(Qt.AlignmentFlag.AlignCenter)  # the style draws the text over the fill in contrast
        self.rtf.setToolTip("Generated seconds per wall-clock second; above 1x the sound never waits")
        self.sound = QLabel()
        self.sound.setWordWrap(True)
        grid.addWidget(QLabel("Seconds"), 0, 0)
        grid.addWidget(self.seconds, 0, 1, 1, 2)
        grid.addWidget(QLabel("Prime"), 1, 0)
        grid.addWidget(self.prime, 1, 1, 1, 2)
        grid.addWidget(QLabel("Prime length"), 2, 0)
        grid.addWidget(self.prime_seconds, 2, 1, 1, 2)
        for i, name in enumerate(("Start", "Pause", "Stop")):
            grid.addWidget(self.buttons[name], 3, i)
        grid.addWidget(self.rtf, 4, 0, 1, 3)
        grid.addWidget(self.save, 5, 0, 1, 3)
        grid.addWidget(self.sound, 6, 0, 1, 3)
        return box

    def _clips_box(self) -> QGroupBox:
        box = QGroupBox("Finished clips")
        layout = QVBoxLayout(box)
        self.clips = QListWidget()
        self.clips.setMaximumHeight(110)
        self.clips.setToolTip("Double-click (or Replay) to show and hear a clip again")
        self.replay = QPushButton("Replay")
        layout.addWidget(self.clips)
        layout.addWidget(self.replay)
        return box

    def set_conditions(self, cond_name: str, classes: int) -> None:
        current = self.condition.currentIndex()
        self.condition.clear()
        self.condition.addItems(condition_names(cond_name, classes))
        self.condition.setEnabled(classes > 0)
        if classes:
            self.condition.setCurrentIndex(min(max(current, 0), classes - 1))

    def show_speed(self, factor: float) -> None:
        self.rtf.setValue(int(min(factor, RTF_MAX) * 100))
        self.rtf.setFormat(f"speed: {factor:.1f}x real time")
