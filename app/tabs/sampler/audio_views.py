"""Views of audio being generated: waveform, spectrogram and "probability-gram", stacked on one time axis.

:class:`AudioScope` keeps the clip and the model's per-step distributions as
they arrive (:meth:`AudioScope.append`, numpy only) and draws them when
:meth:`AudioScope.render` is called by the page's redraw timer, so many
chunks arriving at once cost one redraw. While generating, the view
scrolls to the last ``window_s`` seconds; afterwards it shows the whole clip.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from app.widgets.axes import no_si_prefix

N_FFT, HOP = 256, 64
DB_LEVELS = (-100.0, -20.0)
LOG_P_LEVELS = (-5.0, 0.0)


def stft_db(audio: np.ndarray, start_frame: int) -> np.ndarray:
    """Magnitude in dB of Hann-windowed frames ``start_frame``.. of ``audio`` (T,): (frames, N_FFT // 2 + 1)."""
    n_frames = (len(audio) - N_FFT) // HOP + 1
    if n_frames <= start_frame:
        return np.zeros((0, N_FFT // 2 + 1), np.float32)
    idx = np.arange(start_frame, n_frames)[:, None] * HOP + np.arange(N_FFT)[None]
    spec = np.abs(np.fft.rfft(audio[idx] * np.hanning(N_FFT), axis=1)) / (N_FFT / 4)
    return (20 * np.log10(spec + 1e-9)).astype(np.float32)


class AudioScope(pg.GraphicsLayoutWidget):
    """Waveform, spectrogram and per-step μ-law distribution over time (seconds on every x axis)."""

    def __init__(self, window_s: float = 3.0) -> None:
        super().__init__()
        self.window_s = window_s
        self.wave_plot = self.addPlot(row=0, col=0, title="Waveform")
        self.spec_plot = self.addPlot(row=1, col=0, title="Spectrogram")
        self.prob_plot = self.addPlot(row=2, col=0, title="Probability-gram: p(next μ-law code) per step")
        self.wave = self.wave_plot.plot(pen=pg.mkPen("#1f77b4", width=1))
        self.wave_plot.setClipToView(True)
        self.wave_plot.setDownsampling(auto=True, mode="peak")
        self.playhead = pg.InfiniteLine(0, pen=pg.mkPen("#d62728", width=2))
        self.wave_plot.addItem(self.playhead)
        self.spec_img, self.prob_img = pg.ImageItem(), pg.ImageItem()
        for plot, img, cmap, levels in ((self.spec_plot, self.spec_img, "inferno", DB_LEVELS),
                                        (self.prob_plot, self.prob_img, "viridis", LOG_P_LEVELS)):
            plot.addItem(img)
            img.setColorMap(pg.colormap.get(cmap))
            img.setLevels(levels)
            plot.setXLink(self.wave_plot)
        self.prob_plot.setLabel("left", "code")
        self.spec_plot.setLabel("left", "Hz")
        self.prob_plot.setLabel("bottom", "seconds")
        for plot in (self.wave_plot, self.spec_plot, self.prob_plot):  # "seconds (x0.001)" on an empty clip
            for side in ("left", "bottom"):
                no_si_prefix(plot.getAxis(side))
        self.reset(8000, 256)

    def reset(self, rate: int, levels: int) -> None:
        """Forget the clip; the next one is at ``rate`` Hz with ``levels`` μ-law codes."""
        self.rate, self.levels = rate, levels
        self.audio = np.zeros(0, np.float32)
        self.spec = np.zeros((0, N_FFT // 2 + 1), np.float32)
        self.log_probs = np.zeros((0, levels), np.float32)
        self.prob_stride, self.generating, self.dirty = 16, False, True
        self.spec_plot.setYRange(0, rate / 2)
        self.prob_plot.setYRange(0, levels)
        self.playhead.setValue(0)

    def append(self, audio: np.ndarray, probs: np.ndarray, prob_stride: int) -> None:
        """New samples (n,) and the model's distributions every ``prob_stride`` steps (m, Q)."""
        self.audio = np.concatenate([self.audio, audio.astype(np.float32)])
        self.log_probs = np.concatenate([self.log_probs, np.log10(np.maximum(probs, 1e-12)).astype(np.float32)])
        self.prob_stride = prob_stride
        self.spec = np.concatenate([self.spec, stft_db(self.audio, len(self.spec))])
        self.generating = self.dirty = True

    def show_clip(self, audio: np.ndarray, rate: int, log_probs: np.ndarray | None, prob_stride: int = 16) -> None:
        """Show a finished clip (replay from the history)."""
        self.reset(rate, self.levels if log_probs is None else log_probs.shape[1])
        self.audio = audio.astype(np.float32)
        self.spec = stft_db(self.audio, 0)
        if log_probs is not None:
            self.log_probs, self.prob_stride = log_probs, prob_stride
        self.generating = False

    def set_playhead(self, seconds: float) -> None:
        self.playhead.setValue(seconds)

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.rate

    def render(self) -> None:
        """Push the data into the plots (call from a timer; does nothing when unchanged).

        While generating only the visible window is pushed, so a frame costs
        the same at second 1 and at second 60.
        """
        if not self.dirty:
            return
        self.dirty = False
        end = self.seconds if len(self.audio) else self.window_s  # an empty clip shows the window, not 1 ms
        start = max(0.0, end - self.window_s) if self.generating else 0.0
        first = int(start * self.rate)
        t = np.arange(first, len(self.audio), dtype=np.float32) / self.rate
        self.wave.setData(t, self.audio[first:])
        peak = max(0.02, float(np.abs(self.audio[first:]).max(initial=0.0)))  # speech is quiet: fit it, never below ±0.02
        self.wave_plot.setYRange(-1.1 * peak, 1.1 * peak, padding=0)
        spec0 = max(0, int(first / HOP) - 1) if self.generating else 0
        if len(self.spec) > spec0:
            self.spec_img.setImage(self.spec[spec0:], autoLevels=False)
            self.spec_img.setRect(QRectF((spec0 * HOP + N_FFT / 2) / self.rate, 0,
                                         (len(self.spec) - spec0) * HOP / self.rate, self.rate / 2))
        prob0 = first // self.prob_stride if self.generating else 0
        if len(self.log_probs) > prob0:
            self.prob_img.setImage(self.log_probs[prob0:], autoLevels=False)
            self.prob_img.setRect(QRectF(prob0 * self.prob_stride / self.rate, 0,
                                         (len(self.log_probs) - prob0) * self.prob_stride / self.rate, self.levels))
        self.wave_plot.setXRange(start, max(end, start + (self.window_s if self.generating else 0)), padding=0)

    def finish(self) -> None:
        self.generating, self.dirty = False, True
