"""One image mosaic: a batch of images laid out on a grid (numpy only).

Every place that shows many images at once (the Sampler's panels, the
Training monitor's samples, the Latent explorer's prior samples, the CLI's
PNG grid) builds its picture here.
"""

from __future__ import annotations

import math

import numpy as np


def grid_shape(n: int, cols: int | None = None) -> tuple[int, int]:
    """(rows, cols) of a grid of ``n`` images: ``cols`` columns, or a near-square grid when None."""
    cols = max(1, math.ceil(math.sqrt(n))) if cols is None else max(1, int(cols))
    return math.ceil(n / cols), cols


def mosaic(images: np.ndarray, cols: int | None = None, gap: int = 0, fill=0) -> np.ndarray:
    """Images (N, H, W[, C]) -> one grid (rows*(H+gap)-gap, cols*(W+gap)-gap[, C]) of ``images.dtype``.

    Image ``i`` goes to row ``i // cols``, column ``i % cols`` (``cols`` from
    :func:`grid_shape`: near-square when None). ``gap`` pixels separate the
    cells; the gaps and the empty cells after the last image hold ``fill``
    (a scalar, or a (C,) colour for colour images).
    """
    images = np.asarray(images)
    n, h, w = images.shape[:3]
    rows, cols = grid_shape(n, cols)
    out = np.empty((max(rows * (h + gap) - gap, 0), cols * (w + gap) - gap) + images.shape[3:], images.dtype)
    out[...] = fill
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = images[i]
    return out
