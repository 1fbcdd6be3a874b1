"""Two-dimensional point sets for the GMM fitter and the latent map.

Each loader returns a :class:`PointSet`; a missing file raises a
:class:`DataError` that says where to put it or how to fetch it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.cards.bundled import ASSETS_DIR
from engine.errors import ConfigError, DataError

LATENT_CODES = "latent_codes.npz"
# Every source of 2-D points by name (the run data sets of the flows, :func:`load_points`).
POINT_SOURCES = ("faithful", "moons", "rings", "spiral", "blobs", "latent_codes", "mnist_pca2", "csv")


@dataclass(frozen=True)
class PointSet:
    """points: (N, 2) float64; labels: (N,) int or None; axis names; a note."""

    points: np.ndarray
    labels: np.ndarray | None
    axes: tuple[str, str]
    note: str = ""


def faithful(root: Path) -> PointSet:
    """Old Faithful: eruption time vs waiting time (272 points)."""
    from engine.data.tables import load_faithful

    table = load_faithful(root)
    return PointSet(table.X, None, tuple(table.names[:2]), table.note)


def generated(n: int = 1000, k: int = 3, seed: int = 0) -> PointSet:
    """A synthetic mixture of ``k`` Gaussian blobs with known labels."""
    from engine.data.tables import make_blobs_mixture

    points, labels = make_blobs_mixture(n, k, seed)
    return PointSet(np.asarray(points, np.float64), np.asarray(labels), ("x1", "x2"),
                    f"{n} points from {k} generated Gaussian blobs (seed {seed}).")


def latent_codes(model: str = "vae", assets_dir: Path = ASSETS_DIR) -> PointSet:
    """The bundled model's latent means of the 10,000 MNIST test digits."""
    path = Path(assets_dir) / LATENT_CODES
    if not path.exists():
        raise DataError(f"{path.name} is missing from {assets_dir}; "
                        "regenerate it with `python -m engine codes` or reinstall GenScope.")
    with np.load(path) as codes:
        key = f"{model}_mu"
        if key not in codes:
            raise DataError(f"{path.name} has no codes for model '{model}' (it holds: {', '.join(codes.files)}).")
        points, labels = codes[key].astype(np.float64), codes["labels"].astype(np.int64)
    return PointSet(points, labels, ("z1", "z2"), f"Latent means of the MNIST test digits under the bundled {model}.")


def mnist_pca2(root: Path, split: str = "test") -> PointSet:
    """MNIST digits projected on their first two principal components."""
    from engine.data.mnist import load_mnist

    images, labels = load_mnist(root, split)
    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32) / 255.0)
    x = x - x.mean(dim=0)
    _, _, v = torch.linalg.svd(x, full_matrices=False)
    points = (x @ v[:2].T).double().numpy()
    return PointSet(points, labels.astype(np.int64), ("PC1", "PC2"),
                    f"{len(points)} MNIST {split} digits on their first two principal components.")


def csv_points(path: Path, columns: list[str] | None = None) -> PointSet:
    """Two numeric columns of a CSV file; bad rows are skipped and counted."""
    from engine.data.tables import read_csv_columns

    table = read_csv_columns(path, columns)
    return PointSet(table.X, None, tuple(table.names[:2]), table.note)


def _generated_set(points: np.ndarray, labels: np.ndarray, rng: np.random.Generator, note: str) -> PointSet:
    order = rng.permutation(len(points))
    return PointSet(points[order], labels[order].astype(np.int64), ("x1", "x2"), note)


def two_moons(n: int = 1000, noise: float = 0.1, seed: int = 0) -> PointSet:
    """Two interleaved half circles of radius 1 (as in scikit-learn's make_moons) plus Gaussian ``noise``."""
    rng = np.random.default_rng(seed)
    first = n // 2
    t = np.concatenate([rng.uniform(0, np.pi, first), rng.uniform(0, np.pi, n - first)])
    upper = np.arange(n) < first
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    points = np.stack([x, y], 1) + noise * rng.normal(size=(n, 2))
    return _generated_set(points, (~upper).astype(np.int64), rng, f"{n} points on two moons (noise {noise}, seed {seed}).")


def rings(n: int = 1000, radii: tuple[float, ...] = (1.0, 2.0, 3.0), noise: float = 0.08, seed: int = 0) -> PointSet:
    """Concentric circles of ``radii``, points spread in proportion to the circumference, radial ``noise``."""
    rng = np.random.default_rng(seed)
    ring = rng.choice(len(radii), size=n, p=np.asarray(radii) / sum(radii))
    angle = rng.uniform(0, 2 * np.pi, n)
    r = np.asarray(radii)[ring] + noise * rng.normal(size=n)
    points = np.stack([r * np.cos(angle), r * np.sin(angle)], 1)
    return _generated_set(points, ring, rng, f"{n} points on {len(radii)} rings (noise {noise}, seed {seed}).")


def spiral(n: int = 1000, turns: float = 2.0, noise: float = 0.05, seed: int = 0) -> PointSet:
    """Two interleaved arms of an Archimedean spiral (``turns`` turns, radius up to 1) plus Gaussian ``noise``."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0.02, 1, n))  # uniform along the arm's length
    arm = rng.integers(0, 2, n)
    angle = 2 * np.pi * turns * t + np.pi * arm
    points = np.stack([t * np.cos(angle), t * np.sin(angle)], 1) + noise * rng.normal(size=(n, 2))
    return _generated_set(points, arm, rng, f"{n} points on a two-armed spiral (noise {noise}, seed {seed}).")


def standardized(points: PointSet) -> PointSet:
    """The same points shifted and scaled to mean 0 and standard deviation 1 per column (a constant column: scale 1)."""
    x = np.asarray(points.points, np.float64)
    scale = x.std(0)
    scale[scale == 0] = 1.0
    return PointSet((x - x.mean(0)) / scale, points.labels, points.axes, points.note + " Standardized per column.")


def holdout_split(n: int, fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The one train/held-out split of ``n`` points (every density model on a point set uses it, GMM and flows):
    (train indices, held-out indices), both sorted int64; at least one point on each side when n >= 2."""
    if not 0 < fraction < 1:
        raise ConfigError(f"The held-out fraction must be between 0 and 1, got {fraction}.")
    held = min(max(int(round(n * fraction)), 1), max(n - 1, 0))
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[held:]), np.sort(order[:held])


def load_points(name: str, root: Path | None = None, path: str | None = None, columns: list[str] | None = None,
                n: int = 1000, seed: int = 0) -> PointSet:
    """The point source ``name`` (one of :data:`POINT_SOURCES`), checked by :func:`engine.data.tables.check_points`.

    ``root``: the data folder (faithful, mnist_pca2); ``path`` and ``columns``: the CSV file and its two columns;
    ``n`` and ``seed``: the generated sets' size and seed.
    """
    from engine.data.tables import check_points

    makers = {"faithful": lambda: faithful(root), "moons": lambda: two_moons(n, seed=seed),
              "rings": lambda: rings(n, seed=seed), "spiral": lambda: spiral(n, seed=seed),
              "blobs": lambda: generated(n, 3, seed), "latent_codes": lambda: latent_codes("vae"),
              "mnist_pca2": lambda: mnist_pca2(root), "csv": lambda: csv_points(Path(path), columns)}
    if name not in makers:
        raise ConfigError(f"Unknown point source {name!r}; choose one of: {', '.join(POINT_SOURCES)}.")
    if name == "csv" and not path:
        raise ConfigError("Say which CSV file holds the points (a path).")
    points = makers[name]()
    check_points(points.points, Path(path).name if name == "csv" else name)
    return points
