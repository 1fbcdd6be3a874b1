"""A run's history as the curves the Training monitor draws: the one reader of metrics.jsonl's schema for plots.

A curve is named by ``(plot, series)``: the plot it belongs to (one of
:data:`PLOTS`) and the series within it ("train loss", "val bits/dim", ...).
The live monitor turns each event into points with :func:`step_points` and
:func:`val_points`; a resumed or overlaid run is read back from its folder
with :func:`run_curves`, which gives the same points, so a replayed curve is
the live one.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from engine.training.folder import load_metrics
from engine.training.step import TrainStep

PLOTS = ("loss", "ELBO terms / bits", "gradient norm", "learning rate", "throughput (examples/s)")
LOSS, TERMS, GRAD_NORM, LR, THROUGHPUT = PLOTS
TRAIN_LOSS = (LOSS, "train loss")

Point = tuple[str, str, float]  # (plot, series, value)


def step_points(e: TrainStep, names: dict[str, str] | None = None) -> list[Point]:
    """The points of one optimizer step (all at x = ``e.step``); ``names`` maps a metric to its curve name
    (recon, kl, elbo for VAEs; bits/dim for the PixelCNN; bits/sample for the WaveNet)."""
    names = names or {}
    return [(*TRAIN_LOSS, e.loss), *((TERMS, names.get(k, k), v) for k, v in e.metrics.items()),
            (GRAD_NORM, "grad norm", e.grad_norm), (LR, "lr", e.lr), (THROUGHPUT, "examples/s", e.samples_per_s)]


def val_points(val: dict[str, float], names: dict[str, str] | None = None) -> list[Point]:
    """The points of an epoch's validation metrics ("val <curve name>"; the loss on the loss plot)."""
    names = names or {}
    return [(LOSS if k == "loss" else TERMS, f"val {names.get(k, k)}", v) for k, v in val.items()]


def train_step(record: dict) -> TrainStep:
    """A metrics.jsonl "step" record as the event it was logged from."""
    return TrainStep(int(record["step"]), record.get("epoch", 0), record["loss"], record.get("metrics", {}),
                     record.get("lr", 0.0), record.get("grad_norm", 0.0), record.get("samples_per_s", 0.0))


@dataclass(frozen=True)
class RunCurves:
    """``curves``: (plot, series) -> (steps (n,) float64, values (n,) float64), in logged order;
    ``settings``: (step, name, value) of each mid-run setting change."""

    curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
    settings: list[tuple[int, str, float]]


def run_curves(run_dir: str | os.PathLike, names: dict[str, str] | None = None) -> RunCurves:
    """Every curve point and setting change logged in ``run_dir``/metrics.jsonl (see :mod:`engine.training.folder`)."""
    points: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    settings = []
    for r in load_metrics(run_dir):
        kind = r.get("type")
        if kind == "step" and "loss" in r and "step" in r:
            new, x = step_points(train_step(r), names), r["step"]
        elif kind == "epoch":
            new, x = val_points(r.get("val") or {}, names), r.get("step", 0)
        else:
            if kind == "setting":
                settings.append((int(r.get("step", 0)), str(r.get("name")), float(r.get("value", 0.0))))
            continue
        for plot, series, value in new:
            points[plot, series].append((float(x), float(value)))
    curves = {key: tuple(np.array(column, np.float64) for column in zip(*xy)) for key, xy in points.items()}
    return RunCurves(curves, settings)


def epoch_history(run_dir: str | os.PathLike, key: str = "loss") -> list[dict]:
    """A run's per-epoch ``key`` as [{"epoch", "train", "val"}] (the model card's table), in epoch order; an epoch
    logged twice (a run resumed across its end) keeps its last record."""
    rows = {}
    for record in load_metrics(run_dir):
        if record.get("type") == "epoch" and key in record.get("train", {}):
            rows[int(record["epoch"])] = {"epoch": int(record["epoch"]), "train": float(record["train"][key]),
                                          "val": float(record.get("val", {}).get(key, float("nan")))}
    return [rows[e] for e in sorted(rows)]
