"""Audio basics: μ-law companding, reading any sound file as mono at a given rate, writing WAVs.

Shapes: a clip is a 1-D float32 array of T samples in [-1, 1]; μ-law codes
are integers 0..Q-1 of the same length (Q = ``levels``, 256 by default).

μ-law (ITU-T G.711 style, continuous): ``f(x) = sign(x) ln(1 + μ|x|) / ln(1 + μ)``
with μ = Q - 1, then f in [-1, 1] is quantized to Q equal bins. Small
amplitudes get fine steps, loud ones coarse steps, which matches how we hear
and lets a 256-way softmax model 16-bit speech.
"""

from __future__ import annotations

import math
import os
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from engine.checkpoints import write_file
from engine.errors import DataError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif")
MAX_AUDIO_SAMPLES = 1 << 27  # samples read from one file (512 MB as float32: about 47 minutes of 48 kHz stereo)


def _mu(levels: int) -> float:
    if levels < 2:
        raise DataError(f"μ-law needs at least 2 levels, got {levels}.")
    return float(levels - 1)


def mu_law_encode(audio: np.ndarray | Tensor, levels: int = 256):
    """Samples in [-1, 1] (any shape) -> integer codes 0..levels-1 (same shape; int64)."""
    mu = _mu(levels)
    if isinstance(audio, Tensor):
        x = audio.double().clamp(-1, 1)
        f = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
        return torch.clamp(torch.floor((f + 1) / 2 * mu + 0.5), 0, mu).long()
    x = np.clip(np.asarray(audio, np.float64), -1, 1)
    f = np.sign(x) * np.log1p(mu * np.abs(x)) / math.log1p(mu)
    return np.clip(np.floor((f + 1) / 2 * mu + 0.5), 0, mu).astype(np.int64)


def mu_law_decode(codes: np.ndarray | Tensor, levels: int = 256):
    """Integer codes 0..levels-1 -> samples in [-1, 1] (float32, same shape)."""
    mu = _mu(levels)
    if isinstance(codes, Tensor):
        f = codes.double() / mu * 2 - 1
        return (torch.sign(f) * torch.expm1(f.abs() * math.log1p(mu)) / mu).float()
    f = np.asarray(codes, np.float64) / mu * 2 - 1
    return (np.sign(f) * np.expm1(np.abs(f) * math.log1p(mu)) / mu).astype(np.float32)


def mu_law_error_bound(x: np.ndarray, levels: int = 256) -> np.ndarray:
    """Largest round-trip error |decode(encode(x)) - x| possible at amplitude x (array, same shape).

    Quantization moves f(x) by at most half a bin, 1/mu; the inverse map's
    slope is g'(f) = ln(1+mu)/mu * (1+mu)^|f|, largest at the far end of that half bin.
    """
    mu = _mu(levels)
    f = np.log1p(mu * np.abs(np.asarray(x, np.float64))) / math.log1p(mu)
    return (1 / mu) * math.log1p(mu) / mu * (1 + mu) ** np.minimum(f + 1 / mu, 1.0) + 1e-6


@dataclass(frozen=True)
class Clip:
    """A mono clip at ``rate`` Hz, float32 in [-1, 1] (T,), and what was converted to get it."""

    audio: np.ndarray
    rate: int
    path: str = ""
    notes: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        return len(self.audio) / self.rate


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling with libsoxr (python-soxr, "HQ"): (T,) -> (round(T * out / in),) float32.

    soxr filters a finite clip as it is (no periodic wrap-around, unlike an
    FFT resampler); clips too short for its filter (a few samples) are
    linearly interpolated instead, so any clip of at least one sample works.
    """
    import soxr

    audio = np.asarray(audio, np.float32)
    if rate_in == rate_out or len(audio) == 0:
        return audio.copy()
    n_out = max(1, int(round(len(audio) * rate_out / rate_in)))
    out = soxr.resample(audio, rate_in, rate_out, quality="HQ") if len(audio) >= _SOXR_MIN_SAMPLES else None
    if out is None or len(out) != n_out:
        t_in = np.arange(len(audio)) / rate_in
        out = np.interp(np.arange(n_out) / rate_out, t_in, audio)
    return np.clip(out, -1, 1).astype(np.float32)


_SOXR_MIN_SAMPLES = 16  # below this soxr may return no samples at all


def read_audio(path: str | os.PathLike, rate: int, seconds: float | None = None) -> Clip:
    """Read a sound file soundfile knows as a mono float32 clip at ``rate`` Hz (only its first ``seconds``, if given).

    Stereo is averaged to mono and another rate is resampled, each noted in
    ``Clip.notes``. With ``seconds`` only that much of the file is read from
    disk (priming with 0.25 s of a long recording reads 0.25 s). Unreadable,
    empty or corrupt files raise :class:`DataError` naming the file.
    """
    import soundfile as sf

    path = Path(path)
    if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
        raise DataError(f"The length to read from {path.name} must be a positive number of seconds, got {seconds!r}.")
    try:
        with sf.SoundFile(str(path)) as f:
            frames = f.frames if seconds is None else min(f.frames, max(1, int(math.ceil(seconds * f.samplerate))))
            if frames * f.channels > MAX_AUDIO_SAMPLES:
                raise DataError(f"Audio file {path} holds {f.frames:,} frames of {f.channels} channel(s), more than "
                                f"the {MAX_AUDIO_SAMPLES:,} samples GenScope reads from one file; cut it shorter.")
            data, file_rate = f.read(frames, dtype="float32", always_2d=True), f.samplerate
    except FileNotFoundError:
        raise DataError(f"Audio file {path} does not exist.") from None
    except (RuntimeError, sf.LibsndfileError, ValueError) as exc:
        raise DataError(f"Cannot read audio file {path}: {exc}. Is it a WAV/FLAC/OGG file?") from None
    if data.size == 0:
        raise DataError(f"Audio file {path} holds no samples.")
    notes = []
    if data.shape[1] > 1:
        notes.append(f"{data.shape[1]} channels mixed to mono")
    audio = data.mean(1)
    if file_rate != rate:
        notes.append(f"resampled {file_rate} Hz -> {rate} Hz")
        audio = resample(audio, file_rate, rate)
    if not np.isfinite(audio).all():
        raise DataError(f"Audio file {path} holds NaN or infinite samples.")
    return Clip(audio.astype(np.float32), rate, str(path), tuple(notes))


def write_wav(path: str | os.PathLike, audio: np.ndarray, rate: int) -> Path:
    """Write a mono 16-bit WAV atomically (:func:`engine.checkpoints.write_file`), creating its folder: nothing
    half-written is ever left."""
    import soundfile as sf

    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # write_file says why the folder cannot be used
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(np.asarray(audio, np.float32), -1, 1), int(rate), subtype="PCM_16", format="WAV")
    return write_file(path, buffer.getvalue())
