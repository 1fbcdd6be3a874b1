"""What one training step works with and yields, shared by the training loop and its callers.

The events (:class:`TrainStep`, :class:`EpochEnd`, :class:`CheckpointSaved`),
the divergence error of the checkpoint-file API, batches from arrays
(:func:`batch_tensor`), running means (:class:`Means`), validation
(:func:`evaluate`) and the config stored beside the weights
(:func:`checkpoint_config`). The loop itself is
:class:`engine.training.run_loop.RunLoop`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from engine.device import make_generator
from engine.errors import ConfigError, GenScopeError
from engine.training.distributed import LossModule


@dataclass(frozen=True)
class TrainStep:
    """One optimizer step: batch loss, batch metrics, learning rate, gradient norm, throughput."""

    step: int
    epoch: int
    loss: float
    metrics: dict[str, float]
    lr: float
    grad_norm: float
    samples_per_s: float


@dataclass(frozen=True)
class EpochEnd:
    """Mean training metrics over the epoch (``loss`` included) and validation metrics ({} if none)."""

    epoch: int
    train: dict[str, float]
    val: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    path: str


class TrainingDiverged(GenScopeError):
    """The loss or the gradient became NaN/inf; the weights are those before the bad step."""

    def __init__(self, step: int, what: str):
        self.step = step
        super().__init__(
            f"Training stopped at step {step}: the {what} is not finite; try a lower learning rate or another seed."
        )


def as_examples(data: Tensor | np.ndarray, name: str) -> Tensor:
    """Accept a tensor or an array of N examples; uint8 stays uint8 (scaled per batch)."""
    tensor = torch.as_tensor(data)
    if tensor.ndim < 2 or len(tensor) == 0:
        raise ConfigError(f"{name} must hold at least one example as (N, ...) values, got shape {tuple(tensor.shape)}.")
    return tensor


def batch_tensor(data: Tensor, idx: Tensor, device: torch.device, binarize: bool, gen: torch.Generator) -> Tensor:
    """Rows ``idx`` of ``data`` as float32 on ``device``; uint8 -> /255; optionally x ~ Bernoulli(x)."""
    x = data[idx]
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    x = x.to(device)
    if binarize:
        x = torch.bernoulli(x, generator=gen)
    return x


class Means:
    """Running means of named numbers, weighted by batch size."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.n = 0

    def add(self, values: dict[str, float], n: int) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + v * n
        self.n += n

    def means(self) -> dict[str, float]:
        return {k: v / max(self.n, 1) for k, v in self.sums.items()}


@torch.no_grad()
def evaluate(model: nn.Module, data: Tensor | np.ndarray, batch_size: int, device, seed: int = 0) -> dict[str, float]:
    """Mean loss and metrics of ``model.loss`` over ``data`` (no binarization, eval mode, seeded noise)."""
    data = as_examples(data, "val_data")
    loss_fn, gen = LossModule(model), make_generator(seed, device)
    was_training, means = model.training, Means()
    model.eval()
    for idx in torch.arange(len(data)).split(batch_size):
        out = loss_fn(batch_tensor(data, idx, device, False, gen), gen)
        loss, metrics = out if isinstance(out, tuple) else (out, {})
        means.add({"loss": float(loss), **{k: float(v) for k, v in metrics.items()}}, len(idx))
    model.train(was_training)
    return means.means()


def checkpoint_config(model: nn.Module, data_info: dict | None, metrics: dict, training: dict) -> dict:
    """The config stored beside the weights: kind, hparams, data, metrics, training settings."""
    return {
        "kind": model.kind,
        "hparams": model.hparams(),
        "data": dict(data_info or {}),
        "metrics": metrics,
        "training": training,
    }
