"""Held-out log-likelihood of density models on one split of a point table (N, D), in the data's own units.

- The split is :func:`engine.data.points2d.holdout_split`: the same indices for every model compared.
- :class:`Standardizer` rescales each column to mean 0 and standard deviation 1 (fitted on the training part);
  a density fitted in standardized units is reported in data units by adding :attr:`Standardizer.log_det`
  (log |det ds/dx| = -sum log sigma): both numbers are exact.
- :func:`best_gmm` fits the project's Gaussian mixture for K = 1..k_max and keeps the K with the lowest BIC;
  :func:`gmm_heldout` fits it on the training part and scores both parts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from engine.data.points2d import holdout_split
from engine.events import Done, Progress
from engine.models.gmm import GaussianMixture, choose_k


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


def best_gmm(X: np.ndarray, k_max: int = 10, covariance_type: str = "full",
             seed: int = 0) -> Iterator[Progress | Done]:
    """Fit K = 1..k_max (at most one per point) to X (N, D), keep the lowest BIC, refit it: a Progress per K,
    then Done((gmm, ks (k_max,), bic (k_max,)))."""
    k_max = max(1, min(k_max, len(X)))
    result = None
    for event in choose_k(X, k_max, covariance_type, seed):
        if isinstance(event, Done):
            result = event.result
        else:
            yield event
    ks, bic, _ = result
    best = int(ks[np.argmin(bic)])
    gmm = GaussianMixture(best, covariance_type=covariance_type, seed=seed, max_iter=200).fit(X)
    yield Done((gmm, ks, bic))


def gmm_heldout(points: np.ndarray, fraction: float = 0.2, seed: int = 0) -> Iterator[object]:
    """The project's GMM (best K by BIC, full covariances) fitted on the training part of ``points`` (N, D) and
    scored on both parts of the one split: Progress per K, then Done(dict(k, train_ll, test_ll)), mean
    log-likelihood per point in data units."""
    train_idx, test_idx = holdout_split(len(points), fraction, seed)
    for event in best_gmm(points[train_idx], 10, "full", seed):
        if isinstance(event, Done):
            gmm = event.result[0]
            yield Done({"k": gmm.n_components, "train_ll": gmm.score(points[train_idx]),
                        "test_ll": gmm.score(points[test_idx])})
        else:
            yield event
