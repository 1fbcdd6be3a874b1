"""``train KIND --out``, ``eval KIND`` and ``sample KIND`` for a catalog kind that brings no functions of its own.

Both use the kind's data sets from :mod:`engine.training.data` (``--dataset``,
default the kind's first): training is the one training loop
(:func:`engine.training.loop.train`) with the kind's catalog settings;
evaluation is the mean loss on the data set's validation split (the exact
NLL for an autoregressive model, in nats per example); sampling is the one
autoregressive sampler (:mod:`engine.sampling.autoregressive`), every
strategy, beam search and completion (``--known``), for any model that
implements its protocol.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from engine.catalog import build_model, check_work, get
from engine.cards.common import save_test_metrics
from engine.cli.options import kind_options, set_threads, train_settings
from engine.cli.train import report_training
from engine.checkpoints import write_file
from engine.cli.eval import load_for_eval
from engine.cli.progress import Printer
from engine.cli.sample import image_grid, write_png
from engine.device import select_device, seed_everything
from engine.errors import ConfigError
from engine.sampling import autoregressive as ar
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
    return report_metrics(args, metrics)


def report_metrics(args: argparse.Namespace, metrics: dict, width: int = 22) -> int:
    """Print ``metrics`` one per line; with ``--save`` store them in ``--checkpoint`` and rewrite its card. 0."""
    for name, value in metrics.items():
        print(f"{name:<{width}} {value:.4f}" if isinstance(value, float) else f"{name:<{width}} {value}")
    if args.save:
        card = save_test_metrics(args.checkpoint, metrics)
        print(f"metrics stored in {args.checkpoint}" + (f"; model card {card}" if card else ""))
    return 0


def add_generic_sample_args(p: argparse.ArgumentParser) -> None:
    """``sample KIND`` options of any autoregressive kind: count, label, length, known values, back end."""
    p.add_argument("-n", type=int, default=4, help="sequences to generate (default 4)")
    p.add_argument("--label", type=int, default=None, help="class to condition on (conditional models)")
    p.add_argument("--length", type=int, default=None, help="steps, for models whose length is chosen")
    p.add_argument("--known", default=None, help="completion: values in position order, '_' where unknown, "
                                                 "e.g. 2,_,_,1,_")
    p.add_argument("--method", choices=("fast", "naive"), default="fast")


def _known(text: str | None, steps: int, n_values: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``--known`` -> values (1, D) int64 and mask (1, D) bool, or (None, None)."""
    if text is None:
        return None, None
    cells = [c.strip() for c in text.split(",")]
    if len(cells) != steps or not all(c == "_" or c.isdigit() and int(c) < n_values for c in cells):
        raise ConfigError(f"--known needs {steps} comma-separated values, each 0..{n_values - 1} or '_' (unknown).")
    mask = np.array([[c != "_" for c in cells]])
    return np.array([[int(c) if c != "_" else 0 for c in cells]], dtype=np.int64), mask


def _generate(args: argparse.Namespace, model: ar.Autoregressive, strategy) -> ar.Done:
    """Run the generic sampler (or beam search) with a progress bar; its Done."""
    steps = model.n_steps(args.length)
    if strategy.is_beam:
        if args.known is not None:
            raise ConfigError("Beam search starts from nothing; --known works with the sampling strategies.")
        events = ar.beam_steps(model, strategy.beam_width, label=args.label, length=args.length, method=args.method)
    else:
        known, mask = _known(args.known, steps, model.n_values)
        labels = None if args.label is None else [args.label] * args.n
        events = ar.sample_steps(model, args.n, strategy=strategy, seed=args.seed, labels=labels, known=known,
                                 mask=mask, length=args.length, method=args.method)
    printer, done = Printer(), None
    try:
        for t, event in enumerate(events):
            if isinstance(event, ar.Done):
                done = event
            elif t % 64 == 0 or t == steps - 1:
                printer.progress(t + 1, steps, "  generating")
    finally:
        printer.close()
    return done


def sample_generic(args: argparse.Namespace, strategy) -> int:
    """Sample any autoregressive kind with the one generic sampler; ``--out`` gets a PNG grid (image models, ``.png``)
    or text, one sequence per line: its values then its exact log p in nats."""
    model, _ = load_for_eval(args)
    if not isinstance(model, ar.Autoregressive):
        raise ConfigError(f"A {args.kind} model is not autoregressive: the step-by-step sampler cannot run it.")
    examples, steps = strategy.beam_width if strategy.is_beam else args.n, model.n_steps(args.length)
    check_work(model, examples, f"{examples} {'beams' if strategy.is_beam else 'sequences'} of {steps} steps",
               extra_bytes=16 * examples * steps)  # values, log-probabilities and masks per step
    done = _generate(args, model, strategy)
    if str(args.out).lower().endswith(".png") and hasattr(model, "height"):
        images = done.values.reshape(-1, model.height, model.width)
        path = write_png(args.out, image_grid(images, model.n_values, scale=3))
    else:
        lines = [" ".join(map(str, row)) + f"\t{lp:.4f}" for row, lp in zip(done.values, done.log_prob)]
        path = write_file(args.out, ("\n".join(lines) + "\n").encode())
    print(f"{len(done.values)} sequence(s), {strategy.describe()}; mean log p {float(np.mean(done.log_prob)):.3f} "
          f"nats -> {path}")
    return 0
