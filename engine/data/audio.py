"""Audio data sets for WaveNet: the Free Spoken Digit Dataset, any folder of sound files, generated tones.

Every loader returns an :class:`AudioSet`: mono float32 clips in [-1, 1] at
one rate, optional integer labels (digit or speaker) and what was converted.
:func:`clip_rows` cuts clips into fixed-length training rows of μ-law codes.

FSDD layout: ``recordings/{digit}_{speaker}_{index}.wav``, 8 kHz mono; the
official split puts indices 0-4 of each speaker and digit in the test set.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.data.sound import AUDIO_SUFFIXES, mu_law_encode, read_audio
from engine.errors import DataError

FSDD_RATE = 8000
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
FSDD_LICENSE = "CC BY-SA 4.0"
CONDITIONS = ("digit", "speaker", "none")
_FSDD_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


@dataclass
class AudioSet:
    """Clips (list of (T_i,) float32) at ``rate`` Hz, labels (N,) int64 or None, a description and notes."""

    clips: list[np.ndarray]
    labels: np.ndarray | None
    rate: int
    info: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return int(sum(len(c) for c in self.clips))


def fsdd_folder(root: Path) -> Path:
    """The recordings folder under data folder ``root``, or a DataError saying how to get it."""
    folder = Path(root) / "fsdd" / "recordings"
    if not folder.is_dir():
        raise DataError(f"The Free Spoken Digit Dataset is not in {folder.parent}; "
                        "run `python -m engine download fsdd` or put its recordings/ folder there.")
    return folder


def parse_fsdd_name(name: str) -> tuple[int, str, int] | None:
    """'7_theo_12.wav' -> (7, 'theo', 12); None for other names."""
    match = _FSDD_NAME.match(name)
    return (int(match[1]), match[2], int(match[3])) if match else None


def fsdd_test_clip(root: Path, digit: int, take: int = 0) -> Path:
    """A test-split recording of ``digit`` (recording 0 of speaker ``take`` mod 6), for priming."""
    folder = fsdd_folder(root)
    speaker = FSDD_SPEAKERS[take % len(FSDD_SPEAKERS)]
    path = folder / f"{digit}_{speaker}_0.wav"
    if not path.exists():
        raise DataError(f"{path.name} is missing from {folder}.")
    return path


def load_fsdd(root: Path, split: str = "train", condition: str = "digit", limit: int | None = None) -> AudioSet:
    """FSDD clips of ``split`` ("train": indices 5-49, "test": 0-4) with digit or speaker labels."""
    if split not in ("train", "test") or condition not in CONDITIONS:
        raise DataError(f"FSDD split is train or test and condition one of {CONDITIONS}; got {split!r}, {condition!r}.")
    entries = []
    for path in sorted(fsdd_folder(root).glob("*.wav")):
        parsed = parse_fsdd_name(path.name)
        if parsed and parsed[1] in FSDD_SPEAKERS and (parsed[2] < 5) == (split == "test"):
            entries.append((path, parsed))
    if not entries:
        raise DataError(f"No FSDD recordings of the {split} split in {fsdd_folder(root)}.")
    entries = entries[:limit] if limit else entries
    clips = [read_audio(path, FSDD_RATE).audio for path, _ in entries]
    labels = None
    if condition != "none":
        labels = np.array([p[0] if condition == "digit" else FSDD_SPEAKERS.index(p[1]) for _, p in entries], np.int64)
    info = {"dataset": "Free Spoken Digit Dataset", "split": f"{split} (official: recordings 0-4 of each "
            f"speaker and digit are the test set)", "clips": len(clips), "license": FSDD_LICENSE,
            "condition": condition}
    return AudioSet(clips, labels, FSDD_RATE, info)


def load_audio_folder(folder: Path, rate: int, limit: int | None = None) -> AudioSet:
    """Every sound file under ``folder`` (recursively) as mono clips at ``rate``; conversions are noted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder.")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not paths:
        raise DataError(f"No audio files ({', '.join(AUDIO_SUFFIXES)}) in {folder}.")
    paths = paths[:limit] if limit else paths
    clips, notes = [], []
    for path in paths:
        clip = read_audio(path, rate)
        clips.append(clip.audio)
        notes += [f"{path.name}: {n}" for n in clip.notes]
    labels = None
    parsed = [parse_fsdd_name(p.name) for p in paths]
    if all(parsed):
        labels = np.array([p[0] for p in parsed], np.int64)
    info = {"dataset": f"audio folder {folder}", "clips": len(clips), "condition": "digit" if labels is not None else "none"}
    return AudioSet(clips, labels, rate, info, notes)


def _pluck(freq: float, n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Karplus-Strong plucked string: a noise burst in a delay line with an averaging low-pass."""
    period = max(2, int(round(rate / freq)))
    line = rng.uniform(-1, 1, period)
    out = np.empty(n)
    for i in range(n):
        out[i] = line[i % period]
        line[i % period] = 0.996 * 0.5 * (line[i % period] + line[(i + 1) % period])
    return out


def _tone(freq: float, n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A decaying tone with three harmonics and a random phase."""
    t = np.arange(n) / rate
    phase = rng.uniform(0, 2 * math.pi)
    wave = sum(np.sin(2 * math.pi * freq * k * t + phase * k) / k for k in (1, 2, 3))
    return wave * np.exp(-3.0 * t)


NOTE_HZ = tuple(220.0 * 2 ** (s / 12) for s in (0, 2, 4, 7, 9, 12, 14, 16, 19, 21))  # A3 pentatonic, 2 octaves


def generated_audio(n: int = 400, rate: int = FSDD_RATE, seconds: float = 0.5, seed: int = 0) -> AudioSet:
    """Offline training audio: ``n`` clips, half tones half plucked strings; label = note index 0..9."""
    rng = np.random.default_rng(seed)
    length = int(seconds * rate)
    labels = rng.integers(0, len(NOTE_HZ), n)
    clips = []
    for i, label in enumerate(labels):
        freq = NOTE_HZ[label] * rng.uniform(0.99, 1.01)
        wave = _pluck(freq, length, rate, rng) if i % 2 else _tone(freq, length, rate, rng)
        clips.append((0.6 * rng.uniform(0.5, 1.0) * wave / max(np.abs(wave).max(), 1e-6)).astype(np.float32))
    info = {"dataset": "generated tones and plucked strings", "clips": n, "condition": "note (0-9)",
            "license": "generated by GenScope"}
    return AudioSet(clips, labels.astype(np.int64), rate, info)


def clip_rows(data: AudioSet, length: int, levels: int = 256, with_labels: bool = True) -> np.ndarray:
    """Cut every clip into rows of ``length`` μ-law codes (label appended last): int16 (N, length [+1]).

    Windows start every ``length`` samples; the last window of a clip ends at
    the clip's end (overlapping the one before); a clip shorter than
    ``length`` is padded at the end with the silence code.
    """
    if length < 2:
        raise DataError(f"Training rows need at least 2 samples, got {length}.")
    rows = []
    for i, clip in enumerate(data.clips):
        codes = mu_law_encode(clip, levels)
        if len(codes) < length:
            codes = np.concatenate([codes, np.full(length - len(codes), levels // 2)])
        starts = list(range(0, len(codes) - length + 1, length))
        if starts[-1] != len(codes) - length:
            starts.append(len(codes) - length)
        for s in starts:
            row = codes[s : s + length]
            if with_labels and data.labels is not None:
                row = np.append(row, data.labels[i])
            rows.append(row)
    return np.asarray(rows, np.int16)
