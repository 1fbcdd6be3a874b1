"""The Density lab's training job (no Qt here): a MAF trained live through the one training loop, with
snapshots of it for the views (:func:`engine.evaluation.flow_views.snapshot`).

The flow is trained in standardized units (:class:`~engine.evaluation.heldout.Standardizer`, fitted on the
training part of :func:`~engine.data.points2d.holdout_split`); every number and picture is shown in the
data's own units. Events carry numpy arrays and frozen copies of the model, never the model being trained.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from engine.data.points2d import holdout_split
from engine.device import torch_threads
from engine.catalog import get
from engine.evaluation.density_compare import flow_log_likelihood
from engine.evaluation.flow_views import N_SAMPLES, snapshot, view_box
from engine.evaluation.heldout import Standardizer
from engine.events import Done
from engine.models.flows import MAF
from engine.training.loop import EpochEnd, TrainStep, train

SNAPSHOT_S = 0.4   # at least this many seconds of training between snapshots (plus one at the end)


_MAF = get("maf")  # the catalog's defaults for a MAF on 2-D points (``python -m engine train maf``)
_HP = _MAF.hparams_from({"dim": 2})


@dataclass(frozen=True)
class LabSettings:
    """The flow (``layers`` maps, each a MADE of ``depth`` hidden layers of ``hidden`` units) and its training;
    the defaults are the catalog's."""

    layers: int = _HP["layers"]
    hidden: int = _HP["hidden"][0]
    depth: int = len(_HP["hidden"])
    epochs: int = _MAF.settings["epochs"]
    batch_size: int = _MAF.settings["batch_size"]
    lr: float = _MAF.settings["lr"]
    lr_decay: float = _MAF.settings.get("lr_decay", 1.0)
    seed: int = 0


def train_lab(points: np.ndarray, settings: LabSettings, fraction: float = 0.2) -> Iterator[object]:
    """Train a MAF on ``points`` (N, 2) through the one training loop, live, on one torch thread.

    Yields the loop's TrainStep / EpochEnd events, a
    :class:`~engine.evaluation.flow_views.Snapshot` at most every SNAPSHOT_S seconds (with the last epoch's
    mean log-likelihoods) and at the end (with the final flow's exact ones), then Done(final Snapshot). The
    held-out part is ``holdout_split(N, fraction, seed)``.
    """
    train_idx, test_idx = holdout_split(len(points), fraction, settings.seed)
    scaler = Standardizer.fit(points[train_idx])
    data = torch.as_tensor(scaler.forward(points), dtype=torch.float32)
    model = MAF(2, settings.layers, [settings.hidden] * settings.depth, settings.seed)
    noise = torch.randn(N_SAMPLES, 2, generator=torch.Generator().manual_seed(settings.seed))
    box, last, wait, lls = view_box(points, scaler), 0.0, SNAPSHOT_S, (float("nan"), float("nan"))
    events = train(model, data[train_idx], val_data=data[test_idx], epochs=settings.epochs, lr=settings.lr,
                   lr_decay=settings.lr_decay,
                   batch_size=min(settings.batch_size, len(train_idx)), seed=settings.seed,
                   dynamic_binarize=False, log_every=10**9)
    with torch_threads(1):  # tiny ops: more threads than free cores only wait on each other
        for event in events:
            if isinstance(event, EpochEnd):  # the loss may add a weight penalty: the NLL is its "nll" metric
                train_nll, val_nll = (d.get("nll", d.get("loss", float("nan"))) for d in (event.train, event.val))
                lls = (scaler.log_det - train_nll, scaler.log_det - val_nll)
            if isinstance(event, Done):  # the table's numbers: the final flow's exact mean log-likelihoods
                lls = tuple(flow_log_likelihood(model, data[i].numpy()) + scaler.log_det for i in (train_idx, test_idx))
                final = snapshot(model, scaler, box, noise, (settings.epochs, event.result["steps"], *lls))
                yield final
                yield Done(final)
                return
            yield event
            if isinstance(event, (TrainStep, EpochEnd)) and time.monotonic() - last > wait:
                start = time.monotonic()
                yield snapshot(model, scaler, box, noise, (event.epoch, getattr(event, "step", 0), *lls))
                last = time.monotonic()
                wait = max(SNAPSHOT_S, 3 * (last - start))  # snapshots take at most a quarter of the time
