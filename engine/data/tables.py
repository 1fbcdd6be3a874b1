"""Point tables for the GMM fitter: two numeric columns of a CSV file, Old
Faithful, and generated Gaussian mixtures (numpy only).

Every problem with a file raises :class:`engine.errors.DataError` with one
sentence naming the file; rows whose chosen cells are missing, non-numeric,
NaN or infinite are skipped and counted, never fatal.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from engine.errors import ConfigError, DataError, file_errors

# Row-number columns written by R (Rdatasets) and pandas; skipped when choosing columns by default.
INDEX_NAMES = ("", "rownames", "index", "unnamed: 0")
FAITHFUL_COLUMNS = ("eruptions", "waiting")


@dataclass(frozen=True, eq=False)
class TableData:
    """X (N, 2) float64, the two column names, rows skipped, data rows read, a one-line note."""

    X: np.ndarray
    names: tuple[str, str]
    skipped: int
    total_rows: int
    note: str


def _number(cell: str) -> float | None:
    """The cell as a float (NaN and inf included), or None when it is not a number."""
    try:
        return float(cell.strip())
    except ValueError:
        return None


def _read_rows(path: Path) -> list[list[str]]:
    """All non-blank rows of the CSV file, delimiter sniffed among , ; tab."""
    try:
        with file_errors(path, DataError, "CSV file"), open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path.name} is not a UTF-8 text file; save it as CSV (UTF-8).") from exc
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        return [row for row in csv.reader(text.splitlines(), dialect) if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise DataError(f"{path.name} is not a valid CSV file ({exc}).") from exc


def _split_header(rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """(column names, data rows): the first row is a header when none of its cells is a number."""
    width = max(len(r) for r in rows)
    if all(_number(c) is None for c in rows[0]):
        names = [c.strip() for c in rows[0]] + [f"column {i + 1}" for i in range(len(rows[0]), width)]
        return names, rows[1:]
    return [f"column {i + 1}" for i in range(width)], rows


def _numeric_columns(names: list[str], data: list[list[str]]) -> list[int]:
    """Indices of columns where most non-empty cells are numbers."""
    found = []
    for j in range(len(names)):
        cells = [r[j] for r in data if j < len(r) and r[j].strip()]
        if cells and 2 * sum(_number(c) is not None for c in cells) > len(cells):
            found.append(j)
    return found


def _resolve(column: str | int, names: list[str], file: str) -> int:
    """A column name or 0-based index (a digit string counts as an index when no column has that name)."""
    if isinstance(column, str) and column in names:
        return names.index(column)
    if isinstance(column, (int, np.integer)) or (isinstance(column, str) and column.strip().isdigit()):
        j = int(column)
        if 0 <= j < len(names):
            return j
        raise DataError(f"{file} has {len(names)} columns; column index {j} is out of range (0..{len(names) - 1}).")
    raise DataError(f"{file} has no column {column!r}; its columns are: {', '.join(names)}.")


def _choose(columns: Sequence[str | int] | None, names: list[str], numeric: list[int], file: str) -> list[int]:
    """The two column indices to read: the given ones, else the first two numeric non-index columns."""
    if columns is None:
        picks = [j for j in numeric if names[j].strip().lower() not in INDEX_NAMES]
        if len(picks) < 2:
            shown = ", ".join(names[j] or "(unnamed)" for j in numeric) or "none"
            raise DataError(f"{file} has {len(picks)} numeric data column(s) ({shown}); a point set needs two.")
        return picks[:2]
    if isinstance(columns, str) or len(columns) != 2:
        raise ConfigError(f"Choose exactly two columns of {file}, e.g. ['x', 'y'] or [0, 1]; got {columns!r}.")
    picks = [_resolve(c, names, file) for c in columns]
    for j in picks:
        if j not in numeric:
            raise DataError(f"Column {names[j]!r} of {file} is not numeric.")
    return picks


def read_csv_columns(path: str | os.PathLike, columns: Sequence[str | int] | None = None) -> TableData:
    """Two numeric columns of a CSV file as points (N, 2) float64.

    ``columns``: two names or 0-based indices; by default the first two numeric
    columns (row-number columns such as R's "rownames" are passed over). Rows
    with a missing, non-numeric, NaN or infinite value in either column are
    skipped and counted in ``skipped``.
    """
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise DataError(f"{path.name} is empty.")
    names, data = _split_header(rows)
    picks = _choose(columns, names, _numeric_columns(names, data), path.name)
    points = []
    for row in data:
        values = [_number(row[j]) if j < len(row) else None for j in picks]
        if all(v is not None and math.isfinite(v) for v in values):
            points.append(values)
    chosen = (names[picks[0]], names[picks[1]])
    skipped = len(data) - len(points)
    if not points:
        raise DataError(f"{path.name} has no rows with finite numbers in both columns "
                        f"{chosen[0]!r} and {chosen[1]!r} ({len(data)} rows read, all skipped).")
    note = f"{len(points)} points from {path.name} ({chosen[0]} vs {chosen[1]})"
    if skipped:
        note += f"; skipped {skipped} of {len(data)} rows with missing, non-numeric, NaN or infinite values"
    return TableData(np.asarray(points, dtype=np.float64), chosen, skipped, len(data), note + ".")


def check_points(X: np.ndarray, source: str, least: int = 3) -> np.ndarray:
    """X (N, D) if a density can be fitted to it: at least ``least`` finite points, not all identical;
    else DataError, one sentence naming ``source``. Checked before any model is built."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) < least:
        raise DataError(f"{source} has {len(X) if X.ndim else 0} point(s); fitting a density needs at least {least}.")
    if not np.isfinite(X).all():
        raise DataError(f"{source} has NaN or infinite values; drop those rows first.")
    if np.all(X == X[0]):
        raise DataError(f"All {len(X)} points of {source} are identical; a density needs points that differ.")
    return X


def load_faithful(root: str | os.PathLike) -> TableData:
    """Old Faithful from ``root/faithful/faithful.csv``: 272 eruptions, duration vs waiting time (minutes)."""
    path = Path(root) / "faithful" / "faithful.csv"
    if not path.is_file():
        raise DataError(f"Old Faithful data is missing: expected {path}; run `python -m engine download faithful`.")
    names, _ = _split_header(_read_rows(path)[:1] or [[]])
    columns = FAITHFUL_COLUMNS if set(FAITHFUL_COLUMNS) <= set(names) else None
    return read_csv_columns(path, columns)


def _blob_centers(rng: np.random.Generator, k: int, dim: int, separation: float) -> np.ndarray:
    """k centres (k, dim), pairwise at least ``separation`` apart (rejection sampling in a growing box)."""
    half = separation * max(1.0, k ** (1.0 / dim))
    centers: list[np.ndarray] = []
    while len(centers) < k:
        for _ in range(200):
            c = rng.uniform(-half, half, size=dim)
            if all(np.linalg.norm(c - o) >= separation for o in centers):
                centers.append(c)
                break
        else:
            half *= 1.25
    return np.asarray(centers)


def make_blobs_mixture(n: int, k: int, seed: int | None = 0, dim: int = 2,
                       separation: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points from a random mixture of ``k`` Gaussian blobs: (X (n, dim) float64, labels (n,) int64).

    Blobs have random orientations and standard deviations 0.5..1.5 along
    their axes; centres are at least ``separation`` apart; weights are drawn
    from Dirichlet(5, ..., 5) so no blob is tiny. Points come shuffled.
    """
    for name, value, low in (("n", n, 0), ("k", k, 1), ("dim", dim, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"{name} must be an integer ≥ {low}, got {value!r}.")
    if not separation > 0:
        raise ConfigError(f"separation must be positive, got {separation!r}.")
    rng = np.random.default_rng(seed)
    centers = _blob_centers(rng, k, dim, separation)
    counts = rng.multinomial(n, rng.dirichlet(np.full(k, 5.0)))
    parts, labels = [], []
    for j, m in enumerate(counts):
        rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        scale = rotation * rng.uniform(0.5, 1.5, size=dim)
        parts.append(centers[j] + rng.normal(size=(m, dim)) @ scale.T)
        labels.append(np.full(m, j, dtype=np.int64))
    order = rng.permutation(n)
    return np.concatenate(parts)[order], np.concatenate(labels)[order]
