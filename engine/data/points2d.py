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
from engine.errors import DataError

LATENT_CODES = "latent_codes.npz"


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
