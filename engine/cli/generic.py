"""``train KIND --out`` and ``eval KIND`` for a catalog kind that brings no functions of its own (e.g. a test's toy model).

Both use the kind's data sets from :mod:`engine.training.data` (``--dataset``,
default the kind's first): training is the one training loop
(:func:`engine.training.loop.train`) with the kind's catalog settings;
evaluation is the mean loss on the data set's validation split (the exact
NLL for an autoregressive model, in nats per example).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from engine.catalog import build_model, get
from engine.cards.common import save_test_metrics
from engine.cli.options import kind_options, set_threads, train_settings
from engine.cli.train import report_training
from engine.cli.eval import load_for_eval
from engine.device import select_device, seed_everything
from engine.errors import ConfigError
from engine.training.data import DataSpec, load_run_data
from engine.training.loop import train
from engine.training.step import evaluate


def _data(args: argparse.Namespace, name: str | None, limit: int | None = None):
    entry = get(args.kind)
    name = name or entry.datasets[0]
    if name not in entry.datasets:
        raise ConfigError(f"A {args.kind} model trains on {', '.join(entry.datasets)}, not {name!r}.")
    return load_run_data(DataSpec(name, folder=args.data, limit=limit, val_limit=entry.data.get("val_limit")))


def train_generic(args: argparse.Namespace) -> int:
    """Train the kind on its data set with the one training loop; the model goes to ``--out`` after every epoch."""
    entry = get(args.kind)
    s = train_settings(args, entry)
    set_threads(s.threads)
    data = _data(args, args.dataset, args.limit)
    seed_everything(s.seed)
    model = build_model(args.kind, entry.hparams_from(kind_options(args, entry)))
    events = train(model, data.train, val_data=data.val, epochs=s.epochs, batch_size=s.batch_size, lr=s.lr,
                   lr_decay=s.lr_decay, seed=s.seed, device=select_device(args.device), dynamic_binarize=data.binarize,
                   checkpoint_path=Path(args.out), data_info=data.info, clip_grad=s.clip_grad, log_every=s.log_every)
    report_training(events, args.out)
    return 0


def eval_generic(args: argparse.Namespace) -> int:
    """Mean loss (and its other metrics) on the validation split of the kind's first data set; ``--save`` stores them."""
    model, device = load_for_eval(args)
    data = _data(args, None)
    if data.val is None:
        raise ConfigError(f"The {get(args.kind).datasets[0]} data set has no held-out split to evaluate on.")
    val = data.val[: args.limit] if args.limit else data.val
    metrics = evaluate(model, val, args.batch, device, args.seed)
    metrics.update(nll_nats=metrics["loss"], bits=metrics["loss"] / math.log(2), test_examples=len(val),
                   test_set=str(data.info.get("validation")))
    for name, value in metrics.items():
        print(f"{name:<22} {value:.4f}" if isinstance(value, float) else f"{name:<22} {value}")
    if args.save:
        card = save_test_metrics(args.checkpoint, metrics)
        print(f"metrics stored in {args.checkpoint}" + (f"; model card {card}" if card else ""))
    return 0
