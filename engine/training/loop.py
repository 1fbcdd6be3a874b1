"""Training loops as generators of metric events (shared by every trainable model).

:func:`train` yields a :class:`TrainStep` per optimizer step, a
:class:`~engine.events.Progress` every ``log_every`` steps, an
:class:`EpochEnd` per epoch, a :class:`CheckpointSaved` per save, and a final
:class:`~engine.events.Done` whose result holds the summary. The consumer
(CLI, GUI worker, tests) drives it; stopping iteration stops training, and the
last saved checkpoint stays intact (saves are atomic).

The model contract: ``model.loss(x[, generator=g])`` returns a scalar loss
tensor or ``(loss, {name: scalar tensor or float})``; ``model.kind`` and
``model.hparams()`` describe it for the checkpoint.
"""

from __future__ import annotations

import inspect
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from engine.checkpoints import save_checkpoint
from engine.device import make_generator
from engine.errors import ConfigError, GenScopeError
from engine.events import Done, Progress


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


def _as_tensor(data: Tensor | np.ndarray, name: str) -> Tensor:
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


def _loss_fn(model: nn.Module):
    """``x, generator -> (loss, metrics)`` for the model's ``loss``, passing the generator if it takes one."""
    takes_gen = "generator" in inspect.signature(model.loss).parameters

    def call(x: Tensor, gen: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        out = model.loss(x, generator=gen) if takes_gen else model.loss(x)
        loss, metrics = out if isinstance(out, tuple) else (out, {})
        return loss, {k: float(v) for k, v in metrics.items()}

    return call


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
    data = _as_tensor(data, "val_data")
    loss_fn, gen = _loss_fn(model), make_generator(seed, device)
    was_training, means = model.training, Means()
    model.eval()
    for idx in torch.arange(len(data)).split(batch_size):
        loss, metrics = loss_fn(batch_tensor(data, idx, device, False, gen), gen)
        means.add({"loss": float(loss), **metrics}, len(idx))
    model.train(was_training)
    return means.means()


def _optimizer_step(model: nn.Module, opt: torch.optim.Optimizer, loss: Tensor, clip: float | None, step: int) -> float:
    """Backward, clip, check the gradient, step; return the gradient's global norm."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip else math.inf))
    if not math.isfinite(norm):
        opt.zero_grad(set_to_none=True)
        raise TrainingDiverged(step, "gradient")
    opt.step()
    return norm


def checkpoint_config(model: nn.Module, data_info: dict | None, metrics: dict, training: dict) -> dict:
    """The config stored beside the weights: kind, hparams, data, metrics, training settings."""
    return {
        "kind": model.kind,
        "hparams": model.hparams(),
        "data": dict(data_info or {}),
        "metrics": metrics,
        "training": training,
    }


def _validate(epochs: int, batch_size: int, lr: float, log_every: int, lr_decay: float) -> None:
    if epochs < 1 or batch_size < 1 or log_every < 1:
        raise ConfigError(f"epochs, batch_size and log_every must be positive; got {epochs}, {batch_size}, {log_every}.")
    if not (lr > 0 and math.isfinite(lr)) or not 0 < lr_decay <= 1:
        raise ConfigError(f"The learning rate must be positive and lr_decay in (0, 1]; got {lr} and {lr_decay}.")


class _Run:
    """State of one training run; :meth:`epoch` is the inner generator of :func:`train`."""

    def __init__(self, model: nn.Module, data: Tensor, opt, device: torch.device, seed: int, settings: dict):
        self.model, self.data, self.opt, self.device, self.settings = model, data, opt, device, settings
        self.cpu_gen, self.dev_gen = make_generator(seed), make_generator(seed + 1, device)
        self.loss_fn = _loss_fn(model)
        self.total = settings["epochs"] * math.ceil(len(data) / settings["batch_size"])
        self.step, self.rate, self.busy_s = 0, 0.0, 0.0  # busy_s: compute time, not time paused at a yield

    def _one_step(self, idx: Tensor, clip: float | None) -> tuple[float, dict[str, float], float]:
        """One optimizer step on rows ``idx``; returns (loss, metrics, gradient norm)."""
        x = batch_tensor(self.data, idx, self.device, self.settings["dynamic_binarization"], self.dev_gen)
        loss, metrics = self.loss_fn(x, self.dev_gen)
        self.step, value = self.step + 1, float(loss.detach())
        if not math.isfinite(value):
            raise TrainingDiverged(self.step, "loss")
        return value, metrics, _optimizer_step(self.model, self.opt, loss, clip, self.step)

    def epoch(self, epoch: int, clip: float | None, log_every: int) -> Iterator[object]:
        """Yield TrainStep (and Progress every ``log_every`` steps) for one pass; return the epoch's means."""
        means, batch_size = Means(), self.settings["batch_size"]
        for idx in torch.randperm(len(self.data), generator=self.cpu_gen).split(batch_size):
            t0 = time.perf_counter()
            value, metrics, norm = self._one_step(idx, clip)
            means.add({"loss": value, **metrics}, len(idx))
            elapsed = max(time.perf_counter() - t0, 1e-9)
            self.busy_s += elapsed
            self.rate = len(idx) / elapsed if self.step == 1 else 0.9 * self.rate + 0.1 * len(idx) / elapsed
            yield TrainStep(self.step, epoch, value, metrics, self.opt.param_groups[0]["lr"], norm, self.rate)
            if self.step % log_every == 0 or self.step == self.total:
                yield Progress(self.step, self.total, f"epoch {epoch}/{self.settings['epochs']}")
        return means.means()


def train(
    model: nn.Module,
    train_data: Tensor | np.ndarray,
    *,
    val_data: Tensor | np.ndarray | None = None,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: str | torch.device = "cpu",
    dynamic_binarize: bool = True,
    checkpoint_path: str | os.PathLike | None = None,
    log_every: int = 50,
    lr_decay: float = 1.0,
    clip_grad: float | None = None,
    data_info: dict | None = None,
) -> Iterator[object]:
    """Train ``model`` with Adam on ``train_data`` (N, ...): uint8 means 0..255, floats are in [0, 1].

    Batches are shuffled by a generator seeded with ``seed``; with
    ``dynamic_binarize`` each batch is re-sampled as x ~ Bernoulli(intensity)
    from a seeded generator on ``device``. ``val_data`` (used as given, never
    binarized) is evaluated after every epoch. The learning rate is multiplied
    by ``lr_decay`` after every epoch. With ``checkpoint_path`` the model is
    saved atomically after every epoch (so also at the end). A NaN/inf loss or
    gradient raises :class:`TrainingDiverged` naming the step, before the
    weights change. Same seed, data and initial weights -> same final weights.
    """
    _validate(epochs, batch_size, lr, log_every, lr_decay)
    device = torch.device(device)
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=lr_decay)
    settings = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "lr_decay": lr_decay, "seed": seed,
                "dynamic_binarization": bool(dynamic_binarize), "device": str(device),
                "cpu_threads": torch.get_num_threads()}
    run, summary = _Run(model, _as_tensor(train_data, "train_data"), opt, device, seed, settings), {}
    for epoch in range(1, epochs + 1):
        train_means = yield from run.epoch(epoch, clip_grad, log_every)
        t0 = time.perf_counter()
        summary = {"train": train_means, "val": evaluate(model, val_data, 500, device, seed) if val_data is not None else {}}
        sched.step()
        run.busy_s += time.perf_counter() - t0
        yield EpochEnd(epoch, summary["train"], summary["val"])
        if checkpoint_path is not None:
            training = {**settings, "epochs_done": epoch, "seconds": round(run.busy_s, 1)}
            path = save_checkpoint(checkpoint_path, model.state_dict(), checkpoint_config(model, data_info, summary, training))
            yield CheckpointSaved(run.step, str(Path(path)))
    model.eval()
    yield Done({**summary, "steps": run.step, "seconds": run.busy_s})


def run_training(*args, **kwargs) -> dict:
    """Drain :func:`train` and return its final summary (the batch API)."""
    result: dict = {}
    for event in train(*args, **kwargs):
        if isinstance(event, Done):
            result = event.result
    return result
