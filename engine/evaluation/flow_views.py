"""What a 2-D flow looks like, for the Density lab: its exact density at every stage from the Gaussian base
to the data, samples and a warped grid pushed through the layers, and the Jacobian of one point.

Shapes: N points, D = 2 dimensions, K layers (K + 1 stages: 0 is the base, K the data). The flow works in
standardized units (:class:`~engine.evaluation.heldout.Standardizer`); everything here is returned in the
data's own units except the Jacobian, which is the flow's own.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from engine.evaluation.heldout import Standardizer
from engine.models.flows import MAF, standard_normal_log_prob

GRID = 96          # density grid: GRID x GRID cells over the view's box
N_SAMPLES = 600    # samples shown (the same base noise at every snapshot, so they move smoothly)
LINES, LINE_POINTS = 13, 80   # the warped grid: LINES lines each way across [-3, 3]^2 of the base space
MASSES = (0.5, 0.8, 0.95)     # contours enclosing these fractions of the probability mass


@dataclass(frozen=True)
class Snapshot:
    """The flow as it is now, for the views. Stage 0 is the Gaussian base, stage K the data (K = layers).

    extent (x0, x1, y0, y1) of the density grid in data units; density (K+1, GRID, GRID) float32, row = y;
    levels (K+1, len(MASSES)) density values whose contours enclose MASSES of the mass; samples (K+1, M, 2);
    grid (K+1, 2 * LINES, LINE_POINTS, 2) the base space's square grid pushed through the first k layers;
    train / held-out mean log-likelihood per point in data units (NaN before the first epoch).
    ``model`` is a frozen copy (eval mode, never trained further) for the Jacobian X-ray; ``scaler`` its
    standardization.
    """

    epoch: int
    step: int
    extent: tuple[float, float, float, float]
    density: np.ndarray
    levels: np.ndarray
    samples: np.ndarray
    grid: np.ndarray
    train_ll: float
    test_ll: float
    model: MAF
    scaler: Standardizer


def base_grid() -> np.ndarray:
    """The square grid of the base space: (2 * LINES, LINE_POINTS, 2), horizontal lines then vertical ones."""
    ticks, along = np.linspace(-3, 3, LINES), np.linspace(-3, 3, LINE_POINTS)
    rows = np.stack(np.broadcast_arrays(along[None, :], ticks[:, None]), axis=-1)
    return np.concatenate([rows, rows[..., ::-1]])


def mass_levels(density: np.ndarray, masses=MASSES) -> np.ndarray:
    """Density values (len(masses),) whose upper level sets hold ``masses`` of the grid's total mass."""
    values = np.sort(density.ravel())[::-1]
    cumulative = np.cumsum(values) / max(values.sum(), 1e-300)
    return np.array([values[min(np.searchsorted(cumulative, m), len(values) - 1)] for m in masses])


@torch.no_grad()
def stage_log_density(model: MAF, s: torch.Tensor) -> list[torch.Tensor]:
    """Exact log-density (N,) of every stage k = 0..K at the standardized points s (N, D): stage k's density
    is the base pushed through layers 0..k-1, so y is pulled back through layers k-1..0."""
    out = []
    for k in range(model.n_layers + 1):
        y, total = s, torch.zeros(len(s))
        for j in reversed(range(k)):
            y, logdet = model.layer_to_base(j, y)  # layer j alone, data side -> base side
            total = total + logdet
        out.append(standard_normal_log_prob(y) + total)
    return out


def view_box(points: np.ndarray, scaler: Standardizer, pad: float = 0.1) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1): the points' box and the base Gaussian's 3-sigma box (in data units), padded."""
    lo = np.minimum(points.min(axis=0), scaler.inverse(np.full(2, -3.0)))
    hi = np.maximum(points.max(axis=0), scaler.inverse(np.full(2, 3.0)))
    margin = pad * np.maximum(hi - lo, 1e-6)
    return float(lo[0] - margin[0]), float(hi[0] + margin[0]), float(lo[1] - margin[1]), float(hi[1] + margin[1])


@torch.no_grad()
def snapshot(model: MAF, scaler: Standardizer, box, noise: torch.Tensor, progress: tuple[int, int, float, float]
             ) -> Snapshot:
    """Everything the views draw, from ``model`` as it is now (``progress``: epoch, step, train, held-out LL)."""
    was = model.training
    model.eval()
    x0, x1, y0, y1 = box
    xs, ys = np.linspace(x0, x1, GRID), np.linspace(y0, y1, GRID)
    cells = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    s = torch.as_tensor(scaler.forward(cells), dtype=torch.float32)
    logp = torch.stack(stage_log_density(model, s)).numpy() + scaler.log_det
    density = np.exp(logp).astype(np.float32).reshape(-1, GRID, GRID)
    grid = base_grid()
    moved = model.stages(torch.cat([noise, torch.as_tensor(grid.reshape(-1, 2), dtype=torch.float32)]))
    moved = scaler.inverse(torch.stack(moved).numpy())
    frozen = copy.deepcopy(model).eval()
    model.train(was)
    return Snapshot(*progress[:2], box, density, np.stack([mass_levels(d) for d in density]),
                    moved[:, : len(noise)], moved[:, len(noise):].reshape(len(moved), *grid.shape),
                    *progress[2:], frozen, scaler)


@dataclass(frozen=True)
class XRay:
    """The Jacobian dz/dx (D, D) at one point of a layer (None: the whole flow), rows and columns in ``order``
    (D,) (the layer's own ordering, where it is lower triangular); the O(D) log-determinant (sum of log|diag|
    for a layer, the flow's sum of log-scales for the whole) beside slogdet of the full matrix."""

    point: tuple[float, float]
    layer: int | None
    jacobian: np.ndarray
    order: np.ndarray
    fast_logdet: float
    slogdet: float


def xray(model: MAF, scaler: Standardizer, point: tuple[float, float], layer: int | None) -> XRay:
    """The X-ray of the data point ``point`` for ``layer`` (0 next to the base; None: the whole flow), in the
    flow's standardized units."""
    s = torch.as_tensor(scaler.forward(np.asarray([point])), dtype=torch.float32)
    jac = model.jacobian(s[0], layer).detach().double()
    if layer is None:
        order = np.arange(model.dim)
        with torch.no_grad():
            fast = float(model.log_det_sum(s)[0])
    else:
        order = model.layer_orders()[layer].numpy()
        fast = float(torch.log(torch.diagonal(jac).abs()).sum())
    shown = jac.numpy()[np.ix_(order, order)]
    return XRay(point, layer, shown, order, fast, float(torch.linalg.slogdet(jac)[1]))
