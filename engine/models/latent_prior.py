"""Priors p(z) over a latent space, and the tie between a fitted prior and the space it was fitted in.

A prior is any object with ``log_prob(z (N, L)) -> (N,)`` nats and
``sample(n, generator) -> (n, L)``: :class:`StandardNormal` (the VAE's own
N(0, I)), :class:`MixturePrior` (a fitted :class:`~engine.models.gmm.GaussianMixture`)
and a MAF (``engine.models.flows.MAF`` has both methods itself). A prior
fitted on one model's codes means nothing in another model's latent space:
:class:`TiedPrior` names the checkpoint and dimension it belongs to.

:func:`density_raster` and :func:`mass_levels` give what the latent map draws:
the prior's density on a raster and the density levels whose contours enclose
given fractions of its mass (39 %, 86 %, 99 %: the 1, 2 and 3 sigma circles of N(0, I)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from engine.models.flows import standard_normal_log_prob

SIGMA_MASSES = tuple(1.0 - math.exp(-r * r / 2.0) for r in (1, 2, 3))  # mass of N(0, I_2) within r sigma


class StandardNormal:
    """N(0, I) in ``dim`` dimensions."""

    label = "N(0, I)"

    def __init__(self, dim: int = 2) -> None:
        self.dim = int(dim)

    def log_prob(self, z: Tensor) -> Tensor:
        """z (N, dim) -> (N,) nats."""
        return standard_normal_log_prob(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """(n, dim) float32 draws."""
        return torch.randn(int(n), self.dim, generator=generator)


class MixturePrior:
    """A fitted Gaussian mixture as a prior (its ``score_samples`` and ``sample``, as tensors)."""

    def __init__(self, gmm) -> None:
        self.gmm = gmm
        self.dim = int(np.asarray(gmm.means_).shape[1])
        self.label = f"GMM, K = {gmm.n_components}"

    def log_prob(self, z: Tensor) -> Tensor:
        """z (N, dim) -> (N,) nats, in z's dtype and device."""
        values = self.gmm.score_samples(z.detach().cpu().double().numpy())
        return torch.as_tensor(values).to(device=z.device, dtype=z.dtype)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """(n, dim) float32 draws."""
        points, _ = self.gmm.sample(int(n), seed=generator)
        return torch.as_tensor(np.asarray(points, np.float32))


@dataclass(frozen=True)
class TiedPrior:
    """A prior fitted in one latent space: the model's checkpoint and latent dimension; ``space`` says it in words.

    ``label`` names it in the prior list ("MAF, 5 layers"); ``note`` says what it was fitted on.
    """

    prior: object
    checkpoint: Path
    dim: int
    space: str
    label: str
    note: str = ""

    def applies_to(self, checkpoint, dim: int) -> bool:
        """True in the latent space of ``checkpoint`` with ``dim`` dimensions only."""
        return checkpoint is not None and Path(self.checkpoint).resolve() == Path(checkpoint).resolve() \
            and int(self.dim) == int(dim)


@torch.no_grad()
def density_raster(prior, x_range, y_range, size: int = 200) -> np.ndarray:
    """The prior's density on a size x size raster of cell centres over the rectangle: (size, size), x index first."""
    xs = _centres(x_range, size)
    ys = _centres(y_range, size)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    z = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)
    log_p = torch.cat([prior.log_prob(chunk) for chunk in z.split(20000)])
    return np.exp(log_p.double().cpu().numpy()).reshape(size, size)


def _centres(bounds, size: int) -> np.ndarray:
    lo, hi = float(bounds[0]), float(bounds[1])
    return lo + (hi - lo) * (np.arange(size) + 0.5) / size


def mass_levels(density: np.ndarray, cell_area: float, masses=SIGMA_MASSES) -> list[float]:
    """Density levels whose superlevel sets hold ``masses`` of the raster's mass: one level per mass, descending.

    density (S, S) on cells of area ``cell_area``; a contour at level ``t`` encloses the region p(z) >= t.
    """
    values = np.sort(np.asarray(density, np.float64).ravel())[::-1]
    cumulative = np.cumsum(values) * cell_area
    return [float(values[min(np.searchsorted(cumulative, m), len(values) - 1)]) for m in masses]
