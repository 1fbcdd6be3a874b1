"""Compiled per-pixel step of the PixelCNN's horizontal stack (numba), with a torch fallback.

One eager PyTorch op costs microseconds, and a pixel of a gated PixelCNN
needs ~10 tiny ops per layer; :func:`column_step` does the whole column
(every layer, the skip sum and the output head) in one compiled call.
Without numba, :func:`column_step_torch` computes the same numbers with
``F.linear`` (slower, same results to float tolerance).

Buffers (float32, ``P`` left zero padding, ``W`` columns, ``C`` channels,
``L`` layers, ``B`` images, ``k0`` / ``k`` first / later kernel widths):

- ``x_row`` (B, P + W): network input of the current image row;
- ``h`` (L, B, P + W, C): each layer's horizontal output on this row;
- ``to_h`` (L, B, W, 2C): the vertical stack's contribution (1x1 conv + label bias);
- weights: ``w0`` (2C, k0), ``wl`` (max(L-1, 1), 2C, k*C), ``bh`` (L, 2C),
  ``wo`` (L, 2C, C), ``bo`` (L, 2C), head ``w1`` (Hd, C), ``b1`` (Hd,),
  ``w2`` (n_out, Hd), ``b2`` (n_out,);
- output ``raw`` (B, n_out): the pixel's raw logits.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from engine.models.jit import HAVE_NUMBA, njit  # noqa: F401 - HAVE_NUMBA is read as kernels.HAVE_NUMBA


@njit(cache=True, fastmath=True)
def _gated_out(feat, wo, bo, c, out):  # pragma: no cover - compiled
    """out (2C,) = wo (2C, C) @ gate(feat (2C,)) + bo."""
    n = wo.shape[0]
    g = np.empty(c, np.float64)
    for j in range(c):
        g[j] = math.tanh(feat[j]) / (1.0 + math.exp(-feat[c + j]))
    for j in range(n):
        acc = np.float64(bo[j])
        for i in range(c):
            acc += wo[j, i] * g[i]
        out[j] = acc


@njit(cache=True, fastmath=True)
def column_step(col, pad, x_row, h, to_h, w0, wl, bh, wo, bo, w1, b1, w2, b2, raw):  # pragma: no cover - compiled
    """Fill h[:, :, pad + col] and raw (B, n_out) for column ``col`` (see the module docstring)."""
    n_layers, batch, _, c = h.shape
    k0, n2 = w0.shape[1], 2 * c
    feat, out, skip = np.empty(n2, np.float64), np.empty(n2, np.float64), np.empty(c, np.float64)
    for b in range(batch):
        skip[:] = 0.0
        for layer in range(n_layers):
            for j in range(n2):
                acc = np.float64(bh[layer, j]) + to_h[layer, b, col, j]
                if layer == 0:
                    for t in range(k0):
                        acc += w0[j, t] * x_row[b, pad + col - k0 + t]
                else:
                    k = wl.shape[2] // c
                    start = pad + col - k + 1
                    for t in range(k):
                        for i in range(c):
                            acc += wl[layer - 1, j, t * c + i] * h[layer - 1, b, start + t, i]
                feat[j] = acc
            _gated_out(feat, wo[layer], bo[layer], c, out)
            for i in range(c):
                res = out[i] if layer == 0 else h[layer - 1, b, pad + col, i] + out[i]
                h[layer, b, pad + col, i] = res
                skip[i] += out[c + i]
        _head(skip, w1, b1, w2, b2, raw[b])


@njit(cache=True, fastmath=True)
def _head(skip, w1, b1, w2, b2, raw):  # pragma: no cover - compiled
    """raw (n_out,) = w2 @ relu(w1 @ relu(skip) + b1) + b2."""
    hidden = np.empty(w1.shape[0], np.float64)
    for j in range(w1.shape[0]):
        acc = np.float64(b1[j])
        for i in range(w1.shape[1]):
            acc += w1[j, i] * max(skip[i], 0.0)
        hidden[j] = max(acc, 0.0)
    for j in range(w2.shape[0]):
        acc = np.float64(b2[j])
        for i in range(w2.shape[1]):
            acc += w2[j, i] * hidden[i]
        raw[j] = acc


def column_step_torch(col: int, pad: int, x_row: Tensor, h: Tensor, to_h: Tensor, w0: Tensor, wl: Tensor,
                      bh: Tensor, wo: Tensor, bo: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor,
                      raw: Tensor) -> None:
    """The same computation as :func:`column_step` with torch ops (any device, no numba needed)."""
    n_layers, batch, _, c = h.shape
    k0 = w0.shape[1]
    skip = None
    for layer in range(n_layers):
        if layer == 0:
            feat = F.linear(x_row[:, pad + col - k0 : pad + col], w0, bh[0])
        else:
            k = wl.shape[2] // c
            window = h[layer - 1, :, pad + col - k + 1 : pad + col + 1].reshape(batch, -1)
            feat = F.linear(window, wl[layer - 1], bh[layer])
        feat = feat + to_h[layer, :, col]
        out = F.linear(torch.tanh(feat[:, :c]) * torch.sigmoid(feat[:, c:]), wo[layer], bo[layer])
        h[layer, :, pad + col] = out[:, :c] if layer == 0 else h[layer - 1, :, pad + col] + out[:, :c]
        skip = out[:, c:] if skip is None else skip + out[:, c:]
    raw[:] = F.linear(torch.relu(F.linear(torch.relu(skip), w1, b1)), w2, b2)
