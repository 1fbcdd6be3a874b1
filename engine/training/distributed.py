"""Data-parallel training helpers (torch DistributedDataParallel) for the CLI trainer.

Launch with ``torchrun`` (or ``python -m torch.distributed.run``)::

    torchrun --nproc_per_node 2 --standalone -m engine train vae --run-dir runs/ddp ...

:func:`init_from_env` reads RANK / WORLD_SIZE / LOCAL_RANK (set by torchrun),
joins the process group (gloo on CPU, nccl on CUDA) and returns a
:class:`DistContext`; outside torchrun it returns None and training runs in one
process. Every rank walks the same seeded permutation of the data and takes
its own slice of it (:func:`shard`, like ``DistributedSampler``), so a step
sees ``batch_size x world_size`` examples. The model's ``loss`` runs through a
DDP-wrapped :class:`LossModule`, so gradients are averaged across ranks and
weights stay identical. Only rank 0 writes the run folder.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from engine.errors import ConfigError

ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class DistContext:
    """This process's place in a data-parallel job."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that writes files and prints."""
        return self.rank == 0


def _env_int(name: str) -> int:
    try:
        return int(os.environ[name])
    except ValueError as exc:
        raise ConfigError(f"The environment variable {name}={os.environ[name]!r} must be an integer "
                          "(torchrun sets it).") from exc


def launched_by_torchrun() -> bool:
    """True when torchrun's environment variables are present."""
    return all(key in os.environ for key in ENV_KEYS)


def init_from_env(device: str | torch.device | None = None) -> DistContext | None:
    """Join the process group described by torchrun's environment; None when not launched by torchrun.

    ``device``: "cpu" forces gloo on the CPU; otherwise CUDA (one GPU per
    local rank, nccl) is used when available, else the CPU with gloo.
    """
    if not launched_by_torchrun():
        return None
    rank, world, local = _env_int("RANK"), _env_int("WORLD_SIZE"), _env_int("LOCAL_RANK")
    wants_cpu = device is not None and torch.device(device).type == "cpu"
    if torch.cuda.is_available() and not wants_cpu:
        if local >= torch.cuda.device_count():
            raise ConfigError(f"torchrun started local rank {local} but this machine has {torch.cuda.device_count()} "
                              "GPU(s); use --nproc_per_node <= that number, or --device cpu.")
        dev, backend = torch.device("cuda", local), "nccl"
        torch.cuda.set_device(dev)
    else:
        dev, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, init_method="env://", rank=rank, world_size=world)
    return DistContext(rank, world, local, dev, backend)


def cleanup(ctx: DistContext | None) -> None:
    """Leave the process group (safe to call with None or twice)."""
    if ctx is not None and dist.is_initialized():
        dist.destroy_process_group()


def shard(indices: Tensor, ctx: DistContext | None) -> Tensor:
    """This rank's share of a permutation (N,): padded by wrapping to a multiple of world_size, then every world_size-th.

    Every rank gets ceil(N / world_size) indices (DistributedSampler's rule).
    """
    if ctx is None or ctx.world_size == 1:
        return indices
    pad = (-len(indices)) % ctx.world_size
    if pad:
        indices = torch.cat([indices, indices[:pad]])
    return indices[ctx.rank :: ctx.world_size]


class LossModule(nn.Module):
    """``forward(x, generator)`` = ``model.loss(x[, generator=])``, so DDP's gradient hooks see the loss call."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self._takes_gen = "generator" in inspect.signature(model.loss).parameters

    def forward(self, x: Tensor, generator: torch.Generator | None = None):
        """Whatever ``model.loss`` returns: a scalar loss or (loss, {name: scalar})."""
        return self.model.loss(x, generator=generator) if self._takes_gen else self.model.loss(x)


def wrap(model: nn.Module, ctx: DistContext | None) -> nn.Module:
    """A callable ``(x, generator) -> loss output``: DDP-wrapped under a process group, plain otherwise.

    DDP broadcasts rank 0's weights at construction, so all ranks start equal.
    """
    loss_module = LossModule(model)
    if ctx is None:
        return loss_module
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(loss_module, device_ids=ids)


def all_mean(values: Tensor, ctx: DistContext | None) -> Tensor:
    """Mean over ranks of a float tensor (any shape), on ``ctx.device``; the tensor itself without a process group."""
    if ctx is None or ctx.world_size == 1:
        return values
    out = values.detach().to(ctx.device, copy=True)  # nccl reduces CUDA tensors only
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / ctx.world_size


def barrier(ctx: DistContext | None) -> None:
    """Wait for every rank (no-op in one process)."""
    if ctx is not None and ctx.world_size > 1:
        dist.barrier()
