"""Held-out log-likelihood of density models on one split of a point table (N, D), in the data's own units.

- The split is :func:`engine.data.points2d.holdout_split`: the same indices for every model compared.
- :class:`Standardizer` rescales each column to mean 0 and standard deviation 1 (fitted on the training part);
  a density fitted in standardized units is reported in data units by adding :attr:`Standardizer.log_det`
  (log |det ds/dx| = -sum log sigma): both numbers are exact.
- :func:`gmm_heldout` fits the GMM of lowest BIC on the training part and scores both parts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from engine.data.points2d import holdout_split
from engine.evaluation.density_compare import gmm_by_bic
from engine.events import Done


@dataclass(frozen=True)
class Standardizer:
    """x -> s = (x - mean) / std per column; mean, std: (D,) float64 (std > 0)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> "Standardizer":
        """From the rows X (N, D); a constant column keeps std 1 (it cannot be rescaled)."""
        X = np.asarray(X, np.float64)
        std = X.std(axis=0)
        return cls(X.mean(axis=0), np.where(std > 0, std, 1.0))

    def forward(self, X: np.ndarray) -> np.ndarray:
        """(N, D) data units -> (N, D) standardized."""
        return (np.asarray(X, np.float64) - self.mean) / self.std

    def inverse(self, S: np.ndarray) -> np.ndarray:
        """(..., D) standardized -> (..., D) data units."""
        return np.asarray(S, np.float64) * self.std + self.mean

    @property
    def log_det(self) -> float:
        """log |det ds/dx| = -sum log std: add it to a standardized log-density to get data units."""
        return float(-np.log(self.std).sum())


def gmm_heldout(points: np.ndarray, fraction: float = 0.2, seed: int = 0) -> Iterator[Done]:
    """The project's GMM (full covariances, the K in 1..10 of lowest BIC:
    :func:`engine.evaluation.density_compare.gmm_by_bic`) fitted on the training part of ``points`` (N, D) and
    scored on both parts of the one split: Done(dict(k, train_ll, test_ll)), mean log-likelihood per point in
    data units."""
    train_idx, test_idx = holdout_split(len(points), fraction, seed)
    gmm = gmm_by_bic(points[train_idx], min(10, len(train_idx)), seed)
    yield Done({"k": gmm.n_components, "train_ll": gmm.score(points[train_idx]),
                "test_ll": gmm.score(points[test_idx])})
