"""The Sampler's audio mode: a WaveNet generates raw audio sample by sample and you hear it as it is made.

A run is :func:`engine.sampling.wavenet.generate_steps` on the Sampler's worker
(which owns the model). On that worker each
:class:`~engine.sampling.wavenet.AudioChunk`'s samples go straight into the
:class:`~app.audio.StreamPlayer`'s buffer (:func:`feed`; the player opens the
sound device once 0.3 s is buffered), so playback never waits for the GUI
thread; the GUI gets the chunks, coalesced, for the
:class:`~app.tabs.sampler.audio_views.AudioScope`, which a 40 ms timer redraws
when it changed. Without a sound device generation
still runs and shows everything; the panel says why there is no sound.
Stop, or closing the window, cancels the job within one chunk and aborts
the stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.audio import StreamPlayer
from app.tabs.sampler.audio_panel import PRIMES, AudioPanel
from app.widgets import with_side_panel
from app.tabs.sampler.audio_views import AudioScope
from app.tabs.sampler.strategy_box import describe
from app.tabs.sampler.model_choice import ModelChoice
from app.worker import Job, JobState
from engine.catalog import kinds_for
from engine.data.sound import read_audio, write_wav
from engine.data.audio import fsdd_test_clip
from engine.errors import ConfigError, GenScopeError
from engine.models.wavenet import bits_per_sample
from engine.sampling.wavenet import AudioChunk, AudioDone, generate, generate_steps

REDRAW_MS = 40


@dataclass
class Clip:
    """A finished clip kept for replay and Save WAV."""

    title: str
    audio: np.ndarray
    rate: int
    log_probs: np.ndarray
    prob_stride: int


def feed(steps: Iterator, player: StreamPlayer | None) -> Iterator:
    """Worker side: each AudioChunk's samples (n,) go into ``player``'s buffer as soon as they are made, and
    AudioDone tells it to drain; every event then goes on to the GUI, which only draws."""
    for event in steps:
        if player is not None and isinstance(event, AudioChunk):
            player.write(event.audio)
        elif player is not None and isinstance(event, AudioDone):
            player.finish()
        yield event


class AudioSamplerPage(QWidget):
    """The scope on the left, the panel on the right."""

    def __init__(self, context) -> None:
        super().__init__()
        self.context = context
        self.model = None
        self.held = False  # paused by the user (the job holds at its next chunk)
        self.job: Job | None = None
        self.player: StreamPlayer | None = None
        self.clips: list[Clip] = []
        self.prime_file: str | None = None
        self.title = ""
        self.panel, self.scope = AudioPanel(), AudioScope()
        self.stats, self.note = QLabel(), QLabel()
        for label in (self.stats, self.note):
            label.setWordWrap(True)
        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.scope, 1)
        col.addWidget(self.stats)
        col.addWidget(self.note)
        QHBoxLayout(self).addWidget(with_side_panel(left, self.panel, 350))
        self.timer = QTimer(self, interval=REDRAW_MS)
        self.timer.timeout.connect(self._render)
        self.timer.start()
        self._connect()
        self._show_sound_status()
        self.models = ModelChoice(context, self.panel.model, kinds_for("audio"), self._model_loaded, self.set_note,
                                  prepare=_warm_up, worker=context.sampler)
        self.models.add_bundled("wavenet", "WaveNet, spoken digits",
                                "Open a WaveNet checkpoint with File › Open checkpoint.")

    def _connect(self) -> None:
        p = self.panel
        for name, handler in {"Start": self.start, "Pause": self.pause, "Stop": self.stop}.items():
            p.buttons[name].clicked.connect(lambda _=False, h=handler: self._call(h))
        p.save.clicked.connect(self.save_dialog)
        p.replay.clicked.connect(lambda _=False: self.replay(p.clips.currentRow()))
        p.clips.itemDoubleClicked.connect(lambda _item: self.replay(p.clips.currentRow()))
        p.prime.activated.connect(self._prime_chosen)
        self._update_buttons()

    @staticmethod
    def _call(fn: Callable) -> None:
        fn()

    def _show_sound_status(self, extra: str = "") -> None:
        audio = self.context.audio
        rate = f"; played at {self.model.sample_rate:,} Hz" if self.model is not None else ""
        text = extra or (f"Sound: {audio.device_name}{rate}" if audio.available else audio.describe())
        self.panel.sound.setText(text)

    # ------------------------------------------------------------- models
    def accepts_checkpoint(self, config: dict) -> bool:
        return config.get("kind") in kinds_for("audio")

    def open_checkpoint(self, path, config: dict) -> None:
        self.models.add_opened(path)

    def _model_loaded(self, model, path: Path) -> None:
        self.stop()
        self.model = m = model
        self.panel.set_conditions(m.cond_name, m.cond_classes)
        self.panel.model_info.setText(
            f"{len(m.dilations)} dilated layers ({m.stacks} stacks of 1…{2 ** (m.layers_per_stack - 1)}), "
            f"{m.residual} residual / {m.skip_channels} skip channels, {m.levels} μ-law levels at {m.sample_rate} Hz; "
            f"receptive field {m.receptive_field} samples ({1000 * m.receptive_field / m.sample_rate:.0f} ms). "
            f"{_test_line(m)}")
        self._show_sound_status()
        self._update_buttons()

    # --------------------------------------------------------------- runs
    def running(self) -> bool:
        return self.job is not None and not self.job.state.finished

    def _prime_chosen(self, index: int) -> None:
        if PRIMES[index] == "A sound file…":
            path, _ = QFileDialog.getOpenFileName(self, "Prime with a sound file", "",
                                                  "Audio (*.wav *.flac *.ogg *.aiff *.aif);;All files (*)")
            self.prime_file = path or None
            if not path:
                self.panel.prime.setCurrentIndex(0)

    def _prime_audio(self) -> tuple[np.ndarray | None, str]:
        """The priming samples (P,) and a note on what was converted; raises GenScopeError with a reason."""
        choice, m = PRIMES[self.panel.prime.currentIndex()], self.model
        if choice.startswith("Nothing"):
            return None, ""
        if choice.startswith("Start of a test"):
            path = fsdd_test_clip(self.context.data.path, max(self.panel.condition.currentIndex(), 0))
        elif self.prime_file:
            path = Path(self.prime_file)
        else:
            raise ConfigError("Choose a sound file to prime with (Prime › A sound file…).")
        clip = read_audio(path, m.sample_rate)
        note = f"Primed with {path.name}" + (f" ({'; '.join(clip.notes)})" if clip.notes else "")
        return clip.audio[: int(self.panel.prime_seconds.value() * m.sample_rate)], note

    def start(self) -> Job | None:
        """Start generating (or resume a paused run); bad settings are refused with the reason."""
        if self.held:
            self.pause()
            return self.job
        if self.model is None or self.running():
            return None
        try:
            strategy = self.panel.strategy.strategy()
            prime, prime_note = self._prime_audio()
        except GenScopeError as exc:
            self.set_note(str(exc))
            return None
        m, seconds, seed = self.model, self.panel.seconds.value(), self.panel.strategy.seed.value()
        label = self.panel.condition.currentIndex() if m.cond_classes else None
        self.title = f"{self.panel.condition.currentText() or 'unconditional'}, {describe(strategy)}, seed {seed}"
        self.scope.reset(m.sample_rate, m.levels)
        self._new_player()
        self.set_note(prime_note)
        player = self.player
        self.job = self.models.worker.submit(
            lambda: feed(generate_steps(m, seconds, strategy=strategy, seed=seed, label=label, prime=prime), player),
            name="WaveNet generating", key="sampler-audio", on_event=self._on_event,
            on_finished=self._on_finished, on_error=lambda e: self.set_note(e.text()))
        self._update_buttons()
        return self.job

    def _new_player(self) -> None:
        self._stop_player()
        if self.context.audio.available:
            self.player = StreamPlayer(self.model.sample_rate if self.model else 8000)
        self._show_sound_status()

    def _on_event(self, event) -> None:
        if isinstance(event, AudioChunk):
            self.scope.append(event.audio, event.probs, event.prob_stride)
            if self.player is not None and self.player.error:  # the worker fed it already (feed)
                self._show_sound_status(f"No sound: {self.player.error}")
            made = (event.start + len(event.codes)) / self.model.sample_rate
            self.panel.show_speed(made / max(event.elapsed_s, 1e-9))
            generated = event.start + len(event.codes) - event.primed
            bits = bits_per_sample(-event.log_prob_so_far / max(generated, 1))
            self.stats.setText(f"{made:.2f} s made; log p = {event.log_prob_so_far:.0f} nats, "
                               f"{bits:.2f} bits per generated sample")
        elif isinstance(event, AudioDone):
            self.scope.finish()
            self.clips.append(Clip(self.title, event.audio, event.rate, self.scope.log_probs, self.scope.prob_stride))
            self.panel.clips.addItem(f"{len(self.clips)}. {self.title} ({len(event.audio) / event.rate:.1f} s)")
            self.stats.setText(f"Done: {len(event.audio) / event.rate:.2f} s in {event.seconds:.2f} s "
                               f"({event.generated / event.rate / max(event.seconds, 1e-9):.1f}x real time); "
                               f"{event.bits_per_sample:.2f} bits per generated sample.")

    def _on_finished(self, job: Job) -> None:
        self.held = False
        if job.state == JobState.CANCELLED:
            self.scope.finish()
        self._update_buttons()

    def pause(self) -> None:
        """Pause or resume generation and playback together."""
        if self.job is None:
            return
        if self.held:
            self.job.resume()
            if self.player is not None:
                self.player.resume()
        elif not self.job.state.finished:
            self.job.pause()
            if self.player is not None:
                self.player.pause()
        self.held = not self.held and not self.job.state.finished
        self._update_buttons()

    def stop(self) -> None:
        self.held = False
        if self.job is not None:
            self.job.cancel()
        self._stop_player()
        self._update_buttons()

    def _stop_player(self) -> None:
        if self.player is not None:
            self.player.stop()
            self.player = None

    def shutdown(self) -> None:
        self.timer.stop()
        self.stop()

    def replay(self, row: int) -> None:
        """Show finished clip ``row`` again and play it."""
        if not 0 <= row < len(self.clips) or self.running():
            return
        clip = self.clips[row]
        self.scope.show_clip(clip.audio, clip.rate, clip.log_probs, clip.prob_stride)
        self._new_player()
        if self.player is not None:
            self.player.write(clip.audio)
            self.player.finish()

    # ---------------------------------------------------------- saving
    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save WAV", "genscope.wav", "WAV audio (*.wav)")
        if path:
            self.save_wav(path)

    def save_wav(self, path) -> bool:
        """Write the clip on screen (finished or not) as a 16-bit WAV; says where or why not."""
        if not len(self.scope.audio):
            self.set_note("Nothing to save yet: press Start first.")
            return False
        try:
            out = write_wav(path, self.scope.audio, self.scope.rate)
        except (OSError, RuntimeError) as exc:
            self.set_note(f"Could not write {path}: {exc}")
            return False
        self.set_note(f"Saved {len(self.scope.audio) / self.scope.rate:.2f} s to {out}")
        return True

    # ------------------------------------------------------------ display
    def _render(self) -> None:
        if self.player is not None:
            self.scope.set_playhead(self.player.played_s)
            if self.panel.buttons["Stop"].isEnabled() and self.player.done.is_set() and not self.running():
                self._update_buttons()  # the clip has played to its end: nothing left to stop
        self.scope.render()

    def _update_buttons(self) -> None:
        running = self.running()
        b = self.panel.buttons
        b["Start"].setEnabled(self.model is not None and (not running or self.held))
        b["Pause"].setEnabled(running)
        b["Pause"].setText("Resume" if running and self.held else "Pause")
        b["Stop"].setEnabled(running or (self.player is not None and not self.player.done.is_set()))

    def set_note(self, text: str) -> None:
        self.note.setText(text)


def _warm_up(model) -> None:
    """Generate a few samples so the compiled step is loaded (from numba's cache) before the first Start."""
    generate(model, 8 / model.sample_rate, label=0 if model.cond_classes else None)


def _test_line(model) -> str:
    test = (getattr(model, "checkpoint_config", {}) or {}).get("metrics", {}).get("test", {})
    if "bits_per_sample" in test:
        return f"Test NLL {test['bits_per_sample']:.3f} bits per sample."
    return ""
