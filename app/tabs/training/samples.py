"""The training monitor's samples view: the image grid and 2-D latent snapshot, the audio clips, or the text
paragraphs of one saved step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSlider, QVBoxLayout,
                               QWidget)

from app.audio import AudioStatus, StreamPlayer

from app.tabs.training.curves import sticky_range
from app.widgets.image_view import ImageLabel
from app.widgets.point_cloud import PointCloudItem, palette
from engine.sampling.mosaic import mosaic
from engine.training.folder import load_samples
from engine.training.settings import SamplesReady


class ClipsView(QWidget):
    """Audio samples of one step: the clips' waveforms stacked, and Play for the chosen clip."""

    def __init__(self, audio: AudioStatus | None) -> None:
        super().__init__()
        self.sound_ok = audio is None or audio.available
        self.plot = pg.PlotWidget(background="w")
        self.plot.getPlotItem().setTitle("generated clips (one row each)")
        self.plot.setMinimumHeight(140)
        self.which = QComboBox()
        self.play = QPushButton("Play")
        self.play.setEnabled(self.sound_ok)
        self.play.setToolTip("Hear the chosen clip" if self.sound_ok else (audio.describe() if audio else ""))
        self.play.clicked.connect(lambda _=False: self.play_clip(self.which.currentIndex()))
        self.player: StreamPlayer | None = None
        self.clips, self.rate = np.zeros((0, 0), np.float32), 8000
        row = QHBoxLayout()
        row.addWidget(self.which, 1)
        row.addWidget(self.play)
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.plot, 1)
        col.addLayout(row)

    def set_clips(self, clips: np.ndarray, rate: int) -> None:
        """Clips (G, T) in [-1, 1] at ``rate`` Hz."""
        self.clips, self.rate = np.asarray(clips, np.float32), int(rate)
        self.plot.clear()
        t = np.arange(self.clips.shape[1], dtype=np.float32) / self.rate
        for i, clip in enumerate(self.clips):
            self.plot.plot(t, clip - 2.2 * i, pen=pg.mkPen(pg.intColor(i, 8), width=1))
        current = self.which.currentIndex()
        self.which.clear()
        self.which.addItems([f"clip {i + 1} ({self.clips.shape[1] / self.rate:.1f} s)" for i in range(len(self.clips))])
        self.which.setCurrentIndex(max(0, min(current, len(self.clips) - 1)))

    def play_clip(self, index: int) -> None:
        if not (self.sound_ok and 0 <= index < len(self.clips)):
            return
        self.stop()
        self.player = StreamPlayer(self.rate)
        self.player.write(self.clips[index])
        self.player.finish()

    def stop(self) -> None:
        if self.player is not None:
            self.player.stop()
            self.player = None


class SamplesView(QWidget):
    """The latest (or a chosen step's) image grid and 2-D latent snapshot, audio clips or text paragraphs; one slider
    for all."""

    def __init__(self, audio: AudioStatus | None = None) -> None:
        super().__init__()
        self.files: list[Path] = []
        self.clips = ClipsView(audio)
        self.clips.setVisible(False)
        self.grid = ImageLabel(160, "Decodes of fixed latent points at this step")
        self.paragraphs = QPlainTextEdit()
        self.paragraphs.setReadOnly(True)
        self.paragraphs.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.paragraphs.setVisible(False)
        self.codes_plot = pg.PlotWidget(background="w")
        self.codes_plot.setMinimumHeight(160)
        self.codes_plot.getPlotItem().setTitle("latent codes (2-D models)")
        self.cloud = PointCloudItem(self.codes_plot.getPlotItem().getViewBox(), radius=1.6)
        self._codes_range: tuple[tuple[float, float], tuple[float, float]] | None = None
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Step through the saved samples")
        self.slider.valueChanged.connect(self.show_index)
        self.label = QLabel("No samples yet")
        row = QHBoxLayout()
        row.addWidget(self.grid, 1)
        row.addWidget(self.codes_plot, 1)
        row.addWidget(self.clips, 2)
        row.addWidget(self.paragraphs, 3)
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.addLayout(row)
        bottom = QHBoxLayout()
        bottom.addWidget(self.label)
        bottom.addWidget(self.slider, 1)
        col.addLayout(bottom)

    def add(self, event: SamplesReady) -> None:
        """A new snapshot from the running job: shown from memory, not re-read from disk."""
        follow = not self.files or self.slider.value() >= self.slider.maximum()
        self.files.append(Path(event.path))
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.files) - 1)
        if follow:
            self.slider.setValue(len(self.files) - 1)
        self.slider.blockSignals(False)
        if follow:
            self.show_arrays(event.images, event.codes, event.labels, event.audio, event.rate, event.text)
            self.label.setText(f"step {event.step}")

    def set_files(self, files: list[Path]) -> None:
        follow = self.slider.value() >= self.slider.maximum()
        self.files = list(files)
        self.slider.setRange(0, max(0, len(self.files) - 1))
        if follow and self.files:
            self.slider.setValue(len(self.files) - 1)
            self.show_index(len(self.files) - 1)

    def show_index(self, index: int) -> None:
        if not 0 <= index < len(self.files):
            return
        arrays = load_samples(self.files[index])
        self.show_arrays(arrays.get("images"), arrays.get("codes"), arrays.get("labels"), arrays.get("audio"),
                         int(arrays.get("rate", 0)), arrays.get("text"))
        self.label.setText(self.files[index].stem.replace("_", " "))

    def show_arrays(self, images, codes, labels, audio=None, rate: int = 0, text=None) -> None:
        """text: (G,) str paragraphs of a character model (shown one after another, ruled apart)."""
        self.grid.setVisible(audio is None and text is None)
        self.clips.setVisible(audio is not None)
        self.paragraphs.setVisible(text is not None)
        if text is not None:
            rule = "\n" + "─" * 40 + "\n"
            self.paragraphs.setPlainText(rule.join(str(t) for t in np.atleast_1d(text)))
        if audio is not None:
            self.clips.set_clips(audio, rate)
        if images is not None:
            self.grid.set_image(mosaic(images.astype(np.float32), cols=8))
        self.codes_plot.setVisible(codes is not None)
        if codes is not None:
            colours = palette(10)[labels.astype(np.int64) % 10] if labels is not None else None
            self.cloud.set_points(codes.astype(np.float32), colours)
            self._fit_codes(codes.min(0).astype(float), codes.max(0).astype(float))

    def _fit_codes(self, lo: np.ndarray, hi: np.ndarray) -> None:
        """Hold the codes plot's range while the codes (M, 2) spanning [lo, hi] stay inside it and fill half of it:
        a new range rebuilds and repaints the axes (app.tabs.training.curves)."""
        view = self.codes_plot.getPlotItem().getViewBox()
        if any(view.autoRangeEnabled()):  # the first snapshot, or the user pressed "A"
            view.disableAutoRange()
            self._codes_range = None
        old = self._codes_range or (None, None)
        new = tuple(sticky_range(old[i], lo[i], hi[i], 0.05, 0.05) for i in range(2))
        if new != old:
            self._codes_range = new
            view.setRange(xRange=new[0], yRange=new[1], padding=0)

    def set_caption(self, text: str) -> None:
        """What the grid shows (its tooltip), e.g. decodes of fixed latent points or sampled images."""
        self.grid.setToolTip(text)
