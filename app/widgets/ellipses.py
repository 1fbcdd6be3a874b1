"""Covariance ellipses for 2-D Gaussians (GMM components, q(z|x))."""

from __future__ import annotations

import numpy as np


def ellipse_points(mean: np.ndarray, cov: np.ndarray, n_std: float = 1.0, n: int = 64) -> np.ndarray:
    """Outline of the ``n_std`` contour of N(mean, cov).

    mean: (2,); cov: (2, 2) symmetric positive semi-definite.
    Returns (n + 1, 2) points, closed (last equals first).
    """
    vals, vecs = np.linalg.eigh(np.asarray(cov, np.float64))
    radii = n_std * np.sqrt(np.clip(vals, 0.0, None))
    t = np.linspace(0.0, 2.0 * np.pi, n + 1)
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)  # (n+1, 2)
    return np.asarray(mean, np.float64) + (circle * radii) @ vecs.T


def many_ellipses(means: np.ndarray, covs: np.ndarray, n_std: float = 1.0, n: int = 48) -> np.ndarray:
    """Ellipses of several Gaussians in one polyline, separated by NaN rows.

    means: (K, 2); covs: (K, 2, 2). Returns (K * (n + 2), 2); draw with
    ``connect="finite"`` so the NaN rows break the line.
    """
    out = []
    for mean, cov in zip(means, covs):
        out.append(ellipse_points(mean, cov, n_std, n))
        out.append(np.full((1, 2), np.nan))
    return np.concatenate(out) if out else np.zeros((0, 2))
