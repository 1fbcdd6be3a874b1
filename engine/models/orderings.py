"""Orderings of the pixels of an H x W image: the order an autoregressive model generates them in.

An ordering is a (D,) int64 permutation of ``0 .. D-1`` (D = H*W): entry t is
the flat raster index (``row * W + col``) of the pixel generated at step t.
NADE and MADE take any of them; the PixelCNN is tied to raster order.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.errors import ConfigError

ORDERINGS = ("raster", "column", "snake", "spiral", "random")


def _raster(h: int, w: int) -> np.ndarray:
    return np.arange(h * w)


def _column(h: int, w: int) -> np.ndarray:
    return np.arange(h * w).reshape(h, w).T.reshape(-1)


def _snake(h: int, w: int) -> np.ndarray:
    grid = np.arange(h * w).reshape(h, w)
    grid[1::2] = grid[1::2, ::-1]
    return grid.reshape(-1)


def _spiral(h: int, w: int) -> np.ndarray:
    """Centre-out: pixels by distance from the centre, ties broken by angle (a spiral, not rings of raster)."""
    rows, cols = np.mgrid[0:h, 0:w]
    dy, dx = rows - (h - 1) / 2, cols - (w - 1) / 2
    ring = np.maximum(np.abs(dy), np.abs(dx))
    angle = np.arctan2(dy, dx) % (2 * np.pi)
    return np.lexsort((angle.reshape(-1), ring.reshape(-1)))


def make_ordering(name: str, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """The ordering ``name`` (one of :data:`ORDERINGS`) of a ``height x width`` image: (D,) int64."""
    makers = {"raster": _raster, "column": _column, "snake": _snake, "spiral": _spiral}
    if name == "random":
        return torch.from_numpy(np.random.default_rng(seed).permutation(height * width)).long()
    if name not in makers:
        raise ConfigError(f"Unknown ordering {name!r}; choose one of: {', '.join(ORDERINGS)}.")
    return torch.from_numpy(makers[name](height, width).copy()).long()


def check_ordering(order, size: int) -> torch.Tensor:
    """``order`` as a (size,) int64 tensor if it is a permutation of 0..size-1, else ConfigError."""
    order = torch.as_tensor(np.asarray(order)).reshape(-1)
    if order.dtype.is_floating_point or len(order) != size or not torch.equal(order.sort().values,
                                                                             torch.arange(size)):
        raise ConfigError(f"An ordering must list every position 0..{size - 1} exactly once "
                          f"(got {len(order)} entries).")
    return order.long()


def known_first(mask, order: torch.Tensor) -> torch.Tensor:
    """``order`` rearranged so the positions where ``mask`` (D,) bool is True come first (each group keeps its order).

    An order-agnostic model sampled in this order conditions on every known
    value: a true conditional sample of the unknown ones.
    """
    mask = torch.as_tensor(np.asarray(mask, dtype=bool)).reshape(-1)
    known = mask[order]
    return torch.cat([order[known], order[~known]])


def step_map(order: torch.Tensor, height: int, width: int) -> np.ndarray:
    """(H, W) int: the step at which each pixel is generated (the ordering as a picture)."""
    steps = np.empty(height * width, dtype=np.int64)
    steps[np.asarray(order)] = np.arange(height * width)
    return steps.reshape(height, width)


__all__ = ["ORDERINGS", "check_ordering", "known_first", "make_ordering", "step_map"]
