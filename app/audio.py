"""Audio output availability (sounddevice / PortAudio).

The app must start without PortAudio or without a sound card: this module
never raises on import; :func:`probe_audio` says whether sound can play and,
if not, why and how to fix it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class AudioStatus:
    """Whether audio output works; ``reason`` and ``fix`` explain when not."""

    available: bool
    device: str = ""
    reason: str = ""
    fix: str = ""
    host_api: str = ""  # PortAudio's host API of the device (ALSA, PulseAudio, CoreAudio, WASAPI...)
    rate: float = 0.0  # the device's default sample rate in Hz (0: unknown)

    @property
    def device_name(self) -> str:
        """The output device in words: 'default (ALSA, 44,100 Hz)'."""
        details = ", ".join(x for x in (self.host_api, f"{self.rate:,.0f} Hz" if self.rate else "") if x)
        return f"{self.device} ({details})" if details else self.device

    def describe(self) -> str:
        """One line for the System check and tooltips: the output device, its host API and sample rate, or why
        there is no sound."""
        if self.available:
            return f"Audio output: {self.device_name}"
        return f"Audio off: {self.reason} {self.fix}".strip()


def _install_hint() -> str:
    if sys.platform.startswith("linux"):
        return "Install PortAudio (Debian/Ubuntu: sudo apt-get install libportaudio2) and restart GenScope."
    if sys.platform == "darwin":
        return "Reinstall the sounddevice package (pip install --force-reinstall sounddevice), which bundles PortAudio."
    return "Reinstall the sounddevice package, which bundles PortAudio on this system."


def probe_audio() -> AudioStatus:
    """Try to load PortAudio and find a default output device."""
    try:
        import sounddevice as sd
    except OSError as exc:  # the PortAudio shared library is missing
        return AudioStatus(False, reason=f"PortAudio library not found ({exc}).", fix=_install_hint())
    except ImportError as exc:
        return AudioStatus(False, reason=f"the sounddevice package is not installed ({exc}).",
                           fix="pip install sounddevice")
    try:
        info = sd.query_devices(kind="output")
    except sd.PortAudioError as exc:
        return AudioStatus(False, reason=f"no audio output device ({exc}).",
                           fix="Connect or enable a sound device; generation still works and Save WAV still works.")
    try:
        host_api = str(sd.query_hostapis(info["hostapi"])["name"])
    except (KeyError, IndexError, TypeError, sd.PortAudioError):
        host_api = ""
    return AudioStatus(True, device=str(info.get("name", "default output")), host_api=host_api,
                       rate=float(info.get("default_samplerate") or 0.0))


class StreamPlayer:
    """Plays audio while it is still being made: a sounddevice ``OutputStream`` fed from a growing buffer.

    :meth:`write` appends float32 samples; the stream opens once
    ``prebuffer_s`` seconds are buffered, so a generator faster than real time
    never runs dry. :meth:`finish` says no more samples will come: playback
    drains and stops. Running dry before that counts an underrun, as does
    PortAudio's own underflow flag. Without PortAudio or an output device,
    :attr:`error` says why and writes still keep every sample (for Save WAV).

    Threads: one producer (an engine worker) calls :meth:`write` and
    :meth:`finish`, PortAudio's callback thread consumes, and the GUI thread
    may :meth:`pause`, :meth:`resume` or :meth:`stop` at any time. ``_lock``
    guards the buffer and its counters (held only to copy samples, never
    while opening or closing the device); ``_control`` serialises opening and
    closing the stream, so a late write can never reopen a stopped player.
    """

    def __init__(self, rate: int, prebuffer_s: float = 0.3, blocksize: int = 256, device=None) -> None:
        import threading

        import numpy as np

        self.rate, self.blocksize, self.device = int(rate), int(blocksize), device
        self.prebuffer = max(1, int(prebuffer_s * rate))
        self._np, self._lock, self._control = np, threading.Lock(), threading.RLock()
        self._data = np.zeros(max(self.prebuffer * 4, 4096), np.float32)
        self._written = self._read = 0
        self._finished = self._closed = False
        self._stream = None
        self.underruns = 0
        self.error = ""
        self.done = threading.Event()

    @property
    def played_s(self) -> float:
        """Seconds handed to the sound device so far."""
        return self._read / self.rate

    @property
    def buffered_s(self) -> float:
        return (self._written - self._read) / self.rate

    @property
    def playing(self) -> bool:
        return self._stream is not None and not self.done.is_set()

    def samples(self):
        """Every sample written so far, (T,) float32."""
        with self._lock:
            return self._data[: self._written].copy()

    def write(self, samples) -> None:
        """Append samples (n,) in [-1, 1]; opens the stream once enough is buffered."""
        samples = self._np.asarray(samples, self._np.float32).reshape(-1)
        with self._lock:
            need = self._written + len(samples)
            if need > len(self._data):
                grown = self._np.zeros(max(need, 2 * len(self._data)), self._np.float32)
                grown[: self._written] = self._data[: self._written]
                self._data = grown
            self._data[self._written : need] = samples
            self._written = need
        if self._stream is None and need - self._read >= self.prebuffer:
            with self._control:
                if self._stream is None and not self._closed and not self.error:
                    self._open()

    def finish(self) -> None:
        """No more samples: play what is buffered, then stop (opens the stream for short clips)."""
        with self._lock:
            self._finished = True
            left = self._written > self._read
        with self._control:
            if self._stream is None and not self._closed and not self.error and left:
                self._open()
            elif self._stream is None:
                self.done.set()

    def pause(self) -> None:
        """Hold playback (what is buffered stays); running dry while held is not an underrun."""
        with self._control:
            if self._stream is not None:
                self._stream.stop(ignore_errors=True)

    def resume(self) -> None:
        with self._control:
            if self._stream is not None and not self._closed:
                self._stream.start()

    def stop(self) -> None:
        """Stop at once and release the device (safe to call twice, from any thread)."""
        with self._control:
            self._closed = True
            stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort(ignore_errors=True)
                stream.close(ignore_errors=True)
            except Exception:  # noqa: BLE001 - the device may already be gone
                pass
        self.done.set()

    def _open(self) -> None:
        try:
            import sounddevice as sd

            self._stream = sd.OutputStream(samplerate=self.rate, channels=1, dtype="float32", blocksize=self.blocksize,
                                           device=self.device, callback=self._callback,
                                           finished_callback=self.done.set)
            self._stream.start()
        except (OSError, ImportError) as exc:  # no PortAudio
            self._fail(f"PortAudio is not available ({exc}). {_install_hint()}")
        except Exception as exc:  # noqa: BLE001 - sd.PortAudioError: device busy, absent, bad rate
            self._fail(f"the audio device could not be opened ({exc}); generation goes on and Save WAV works.")

    def _fail(self, why: str) -> None:
        self.error, self._stream = why, None
        self.done.set()

    def _callback(self, outdata, frames, time_info, status) -> None:
        if status.output_underflow:
            self.underruns += 1
        with self._lock:
            n = min(frames, self._written - self._read)
            outdata[:n, 0] = self._data[self._read : self._read + n]
            self._read += n
            finished = self._finished and self._read >= self._written
        if n < frames:
            outdata[n:, 0] = 0.0
            if not finished:
                self.underruns += 1
        if finished:
            import sounddevice as sd

            raise sd.CallbackStop
