"""Training to a checkpoint file (``train ... --out``): the run loop, with its model written to one file per epoch.

:func:`train` yields a :class:`TrainStep` per optimizer step, a
:class:`~engine.events.Progress` every ``log_every`` steps, an
:class:`EpochEnd` per epoch, a :class:`CheckpointSaved` per save, and a final
:class:`~engine.events.Done` whose result holds the summary. It is
:class:`~engine.training.run_loop.RunLoop` (the one training loop, also
behind run folders and the Training monitor) over a folder that writes
nothing, exporting the model to ``checkpoint_path`` after every epoch; a
divergence raises :class:`TrainingDiverged` instead of pausing.

The model contract: ``model.loss(x[, generator=g])`` returns a scalar loss
tensor or ``(loss, {name: scalar tensor or float})``; ``model.kind`` and
``model.hparams()`` describe it for the checkpoint.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from engine.events import Done, Progress
from engine.training.data import RunData
from engine.training.folder import RunFolder
from engine.training.run_loop import RunLoop
from engine.training.settings import Diverged, TrainSettings
from engine.training.step import (CheckpointSaved, EpochEnd, TrainingDiverged, TrainStep, as_examples,
                                  checkpoint_config, evaluate)


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

    Batches follow the run loop's seeded permutation per epoch; with
    ``dynamic_binarize`` each batch is re-sampled as x ~ Bernoulli(intensity)
    from a seeded generator. ``val_data`` (used as given, never binarized) is
    evaluated after every epoch. The learning rate is multiplied by
    ``lr_decay`` after every epoch. With ``checkpoint_path`` the model is
    saved atomically after every epoch (so also at the end). A NaN/inf loss or
    gradient raises :class:`TrainingDiverged` naming the step, before the
    weights change. Same seed, data and initial weights -> same final weights.
    """
    settings = TrainSettings(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, lr_decay=lr_decay,
                             clip_grad=clip_grad, log_every=log_every, checkpoint_every=0, sample_every=0,
                             code_count=0, device=str(device))
    data = RunData(as_examples(train_data, "train_data"), val_data, None, bool(dynamic_binarize), dict(data_info or {}))
    name = Path(checkpoint_path).with_suffix(".run") if checkpoint_path else Path("unsaved.run")
    loop = RunLoop(RunFolder(name, writable=False), model, data, settings, {}, torch.device(device),
                   export_path=checkpoint_path)
    events, summary = loop.events(), {}
    try:
        for event in events:
            if isinstance(event, Diverged):
                raise TrainingDiverged(event.step, event.what)
            if isinstance(event, EpochEnd):
                summary = {"train": event.train, "val": event.val}
            exported = isinstance(event, CheckpointSaved) and event.path != str(loop.folder.last_path)
            if isinstance(event, (TrainStep, Progress, EpochEnd)) or exported:
                yield event
    finally:
        events.close()
    model.eval()
    yield Done({**summary, "steps": loop.step, "seconds": loop.busy_s})


def run_training(*args, **kwargs) -> dict:
    """Drain :func:`train` and return its final summary (the batch API)."""
    result: dict = {}
    for event in train(*args, **kwargs):
        if isinstance(event, Done):
            result = event.result
    return result


__all__ = ["CheckpointSaved", "EpochEnd", "TrainStep", "TrainingDiverged", "checkpoint_config", "evaluate",
           "run_training", "train"]
