"""Readers for MNIST (IDX files) and static binarized MNIST (``.amat`` text).

Both formats are read raw or gzip-compressed; gzip is detected by its magic
bytes (``1f 8b``), not by the file name. Every problem with a file raises
:class:`engine.errors.DataError` with one sentence naming the file and what
is wrong, so the GUI and the CLI can show it without a traceback.

Layout under a data folder ``root``::

    root/mnist/{train,t10k}-images-idx3-ubyte[.gz]      uint8 (N, 28, 28)
    root/mnist/{train,t10k}-labels-idx1-ubyte[.gz]      uint8 (N,)
    root/binarized_mnist/binarized_mnist_{train,valid,test}.amat[.gz]
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from engine.errors import ConfigError, DataError, file_errors

GZIP_MAGIC = b"\x1f\x8b"
IDX_UINT8 = 0x08
MNIST_SPLITS = {"train": "train", "test": "t10k"}
BINARIZED_SPLITS = ("train", "valid", "test")
AMAT_VALUES = 784
AMAT_LINE = 2 * AMAT_VALUES  # 784 digits, 783 spaces, one '\n'
# Deflate cannot expand data by more than ~1032x; anything claiming more is corrupt.
_MAX_GZIP_RATIO = 1100
_CHUNK = 1 << 20


# --------------------------------------------------------------------------- files


@contextlib.contextmanager
def _translate_errors(path: Path) -> Iterator[None]:
    """Turn I/O and gzip failures while reading ``path`` into a DataError."""
    with file_errors(path, DataError, "data file"):
        try:
            yield
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise DataError(f"{path.name} is a truncated or corrupt gzip file ({exc}); re-download it.") from exc


def _open_data_file(path: Path) -> BinaryIO:
    """Open ``path`` for reading, decompressing on the fly if it starts with the gzip magic."""
    raw = open(path, "rb")
    try:
        is_gzip = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
    except BaseException:
        raw.close()
        raise
    return gzip.GzipFile(fileobj=raw, mode="rb") if is_gzip else raw


def _close(f: BinaryIO) -> None:
    """Close ``f`` and, for a GzipFile, the raw file below it."""
    inner = getattr(f, "fileobj", None)
    f.close()
    if inner is not None:
        inner.close()


def _read_exact(f: BinaryIO, n: int) -> bytes:
    """Read up to ``n`` bytes, looping over short reads; fewer only at end of file."""
    parts, got = [], 0
    while got < n:
        chunk = f.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _readinto_exact(f: BinaryIO, buf: np.ndarray) -> int:
    """Fill the 1-D uint8 array ``buf`` from ``f``; return the number of bytes read."""
    view = memoryview(buf).cast("B")
    got = 0
    while got < len(view):
        n = f.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def _count_rest(f: BinaryIO) -> int:
    """Read ``f`` to its end (so gzip checks its CRC) and return how many bytes were left."""
    extra = 0
    while chunk := f.read(_CHUNK):
        extra += len(chunk)
    return extra


# --------------------------------------------------------------------------- IDX


def _parse_idx_header(f: BinaryIO, path: Path) -> tuple[int, ...]:
    """Read and validate an IDX header; return the dims (big-endian uint32 each)."""
    magic = _read_exact(f, 4)
    if len(magic) < 4:
        raise DataError(f"{path.name} is truncated: it is too short to hold an IDX header; re-download it.")
    if magic[:2] != b"\x00\x00" or magic[3] == 0:
        raise DataError(
            f"{path.name} is not an IDX file (magic number 0x{magic.hex()}, "
            "expected 0x00000801 for labels or 0x00000803 for images)."
        )
    if magic[2] != IDX_UINT8:
        raise DataError(
            f"{path.name} holds IDX data of type code 0x{magic[2]:02x}; only unsigned bytes (0x08) are supported."
        )
    ndim = magic[3]
    raw_dims = _read_exact(f, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataError(f"{path.name} is truncated inside its IDX header; re-download it.")
    return tuple(int(d) for d in np.frombuffer(raw_dims, dtype=">u4"))


def _check_payload_fits(path: Path, f: BinaryIO, header_bytes: int, expected: int, what: str) -> None:
    """Refuse a header whose size cannot match the file before allocating memory for it."""
    stat_size = os.fstat((getattr(f, "fileobj", None) or f).fileno()).st_size
    if isinstance(f, gzip.GzipFile):
        if expected > _MAX_GZIP_RATIO * stat_size + _CHUNK:
            raise DataError(
                f"{path.name} is corrupt: its header declares {expected} {what} bytes, "
                f"more than a {stat_size}-byte gzip file can hold; re-download it."
            )
        return
    found = stat_size - header_bytes
    if found < expected:
        raise DataError(f"{path.name} is truncated: expected {expected} {what} bytes, found {found}; re-download it.")
    if found > expected:
        raise DataError(
            f"{path.name} has {found - expected} unexpected bytes after its {expected} {what} bytes; "
            "it is corrupt or not an MNIST file."
        )


def read_idx(path: str | os.PathLike, *, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes (raw or gzip) into a uint8 array of the declared dims.

    Labels files (magic 0x00000801) give shape (N,); image files (0x00000803)
    give (N, rows, cols). ``ndim``, when given, is the number of dims the file
    must declare. The payload must be exactly prod(dims) bytes.
    """
    path = Path(path)
    what = "pixel" if (ndim or 0) >= 2 else "label" if ndim == 1 else "data"
    with _translate_errors(path):
        f = _open_data_file(path)
        try:
            dims = _parse_idx_header(f, path)
            if ndim is not None and len(dims) != ndim:
                raise DataError(f"{path.name} declares {len(dims)} dimensions; expected {ndim} here.")
            expected = math.prod(dims)
            _check_payload_fits(path, f, 4 + 4 * len(dims), expected, what)
            out = np.empty(expected, dtype=np.uint8)
            found = _readinto_exact(f, out)
            if found < expected:
                raise DataError(
                    f"{path.name} is truncated: expected {expected} {what} bytes, found {found}; re-download it."
                )
            extra = _count_rest(f)
            if extra:
                raise DataError(
                    f"{path.name} has {extra} unexpected bytes after its {expected} {what} bytes; "
                    "it is corrupt or not an MNIST file."
                )
        finally:
            _close(f)
    return out.reshape(dims)


def _find_file(folder: Path, stem: str, what: str, hint: str) -> Path:
    """``folder/stem`` or ``folder/stem.gz``, whichever exists, else a DataError saying where it looked."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{what} not found: looked for {folder / stem}[.gz]; {hint}")


def load_mnist(root: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST ``split`` ("train" or "test") from ``root/mnist``.

    Returns images uint8 (N, 28, 28) with 0 = background and labels uint8 (N,)
    in 0..9 (N = 60000 for train, 10000 for test with the official files).
    """
    if split not in MNIST_SPLITS:
        raise ConfigError(f"Unknown MNIST split {split!r}; use 'train' or 'test'.")
    folder = Path(root) / "mnist"
    prefix = MNIST_SPLITS[split]
    hint = "run `python -m engine download mnist` to fetch it."
    images_path = _find_file(folder, f"{prefix}-images-idx3-ubyte", f"MNIST {split} images", hint)
    labels_path = _find_file(folder, f"{prefix}-labels-idx1-ubyte", f"MNIST {split} labels", hint)
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{images_path.name} holds images of {images.shape[1]}x{images.shape[2]} pixels, not 28x28.")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path.name} holds {len(images)} images but {labels_path.name} holds {len(labels)} labels; "
            "re-download both."
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"{labels_path.name} contains label {int(labels.max())}; MNIST labels are 0..9.")
    return images, labels


# --------------------------------------------------------------------------- .amat


def _amat_fast(data: bytes) -> np.ndarray | None:
    """Parse well-formed ``.amat`` bytes into uint8 (N, 784); None if anything is off."""
    if not data.endswith(b"\n"):
        data += b"\n"  # tolerate a missing final newline; a short line still fails below
    if len(data) % AMAT_LINE:
        return None
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, AMAT_LINE)
    seps = rows[:, 1::2]
    if not ((seps[:, :-1] == ord(" ")).all() and (seps[:, -1] == ord("\n")).all()):
        return None
    values = rows[:, 0::2] - np.uint8(ord("0"))
    if (values > 1).any():  # uint8 wrap-around makes any byte below '0' large too
        return None
    return values


def _amat_diagnose(data: bytes, path: Path) -> DataError:
    """Find the first malformed line of ``.amat`` bytes and describe it in one sentence."""
    lines = data.split(b"\n")
    truncated_last = bool(lines[-1])  # no final newline: last line may be cut short
    if not lines[-1]:
        lines.pop()
    if not lines:
        return DataError(f"{path.name} is empty; re-download it.")
    for number, line in enumerate(lines, start=1):
        tokens = line.split(b" ")
        bad = next((t for t in tokens if t not in (b"0", b"1")), None)
        cut_short = number == len(lines) and truncated_last and len(tokens) < AMAT_VALUES
        if cut_short and (bad is None or (bad == b"" and tokens[-1] == b"" and tokens.count(b"") == 1)):
            tokens = [t for t in tokens if t]
            return DataError(
                f"{path.name} is truncated: its last line (line {number}) has {len(tokens)} of "
                f"{AMAT_VALUES} values; re-download it."
            )
        if bad is not None:
            shown = bad.decode("latin-1")[:20]
            return DataError(f"{path.name} line {number} holds {shown!r}; binarized MNIST values must be 0 or 1.")
        if len(tokens) != AMAT_VALUES:
            return DataError(f"{path.name} line {number} has {len(tokens)} values; expected {AMAT_VALUES}.")
    return DataError(f"{path.name} is not a binarized MNIST .amat file.")


def read_amat(path: str | os.PathLike) -> np.ndarray:
    """Read a static binarized MNIST ``.amat`` (raw or gzip) file into uint8 (N, 784) of 0/1.

    Each line holds 784 values ``0``/``1`` separated by single spaces.
    """
    path = Path(path)
    with _translate_errors(path):
        f = _open_data_file(path)
        try:
            data = f.read()
        finally:
            _close(f)
    values = _amat_fast(data) if data else None
    if values is None:
        raise _amat_diagnose(data, path)
    return values


def load_binarized_mnist(root: str | os.PathLike, split: str = "train") -> np.ndarray:
    """Load static binarized MNIST ``split`` ("train", "valid", "test") as uint8 (N, 784) of 0/1.

    N is 50000 / 10000 / 10000 for the standard files.
    """
    if split not in BINARIZED_SPLITS:
        raise ConfigError(f"Unknown binarized MNIST split {split!r}; use 'train', 'valid' or 'test'.")
    folder = Path(root) / "binarized_mnist"
    path = _find_file(
        folder,
        f"binarized_mnist_{split}.amat",
        f"Binarized MNIST {split} split",
        "run `python -m engine download binarized_mnist` to fetch it.",
    )
    return read_amat(path)
