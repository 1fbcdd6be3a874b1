"""What NADE and MADE share: binary ``height x width`` images generated one pixel at a time in an ordering.

:class:`BinaryImageModel` is a mixin for an ``nn.Module`` that has ``size``
(D = height * width), ``height``, ``width``, ``perm`` (the (D,) ordering:
the flat pixel index generated at each step), ``logits(x)`` (B, D) Bernoulli
logits of every pixel from one teacher-forced pass, and ``state_class`` (its incremental sampling state). It gives the
exact log-likelihood, the training loss, and the autoregressive protocol's
``n_steps`` / ``order`` / ``start``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from engine.errors import ConfigError

LOG2 = math.log(2.0)


def binary_logits(logit_one: Tensor) -> Tensor:
    """Bernoulli logits (B,) -> categorical logits (B, 2) over the values 0 and 1."""
    return torch.stack([torch.zeros_like(logit_one), logit_one], -1)


class BinaryImageModel:
    """Mixin: exact log p(x), the loss in nats with bits/dim, and the autoregressive protocol (module docstring)."""

    n_values = 2
    levels = 2
    num_classes = 0  # never class-conditional

    def _flat(self, x: Tensor) -> Tensor:
        """Images (B, H, W) or rows (B, D) -> (B, D) float32 on the model's device; ConfigError for another size."""
        if x.ndim < 2 or x[0].numel() != self.size:
            raise ConfigError(f"Expected {self.height}x{self.width} images, got shape {tuple(x.shape)}.")
        return x.reshape(len(x), self.size).to(next(self.parameters()).device, torch.float32)

    def position_log_probs(self, x: Tensor, labels=None) -> Tensor:
        """log p(x_i | the pixels before i in the ordering) (B, D) nats, flat raster index, from ``logits``."""
        flat = self._flat(x)
        return -F.binary_cross_entropy_with_logits(self.logits(flat), flat, reduction="none")

    def log_prob(self, x: Tensor, labels=None) -> Tensor:
        """Exact log p(x) (B,) in nats."""
        return self.position_log_probs(x).sum(1)

    def nll(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Mean NLL (nats per image) of ``x`` (B, H, W) or (B, D), and its bits per pixel."""
        nll = -self.log_prob(x).mean()
        return nll, {"bits_per_dim": nll.detach() / (self.size * LOG2)}

    def quantize(self, x01: Tensor) -> Tensor:
        """Intensities in [0, 1] -> 0/1 values (threshold 0.5), the shape kept."""
        return (x01 >= 0.5).long()

    def n_steps(self, length: int | None = None) -> int:
        if length is not None and int(length) != self.size:
            raise ConfigError(f"This {self.kind.upper()} paints {self.height}x{self.width} images; the length is fixed.")
        return self.size

    def order(self, length: int | None = None) -> Tensor:
        """(D,) int64: the flat pixel index generated at each step (under the current mask set for a MADE)."""
        return self.perm.cpu()

    def start(self, batch: int, labels=None, length: int | None = None, method: str = "fast",
              known: Tensor | None = None):
        """A fresh sampling state for ``batch`` images ("fast": incremental, "naive": a full pass per pixel)."""
        if labels is not None:
            raise ConfigError(f"A {self.kind.upper()} is not class-conditional; paint without a label.")
        return self.state_class(self, batch, naive=method == "naive")


__all__ = ["BinaryImageModel", "LOG2", "binary_logits"]
