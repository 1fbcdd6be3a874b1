"""Options several commands share: the catalog's per-kind options, training settings, threads, decoding strategy.

Every option defaults to None ("unset") so that the catalog's defaults
(:mod:`engine.catalog`) apply: ``train pixelcnn`` trains with the
PixelCNN's epochs and batch size unless the command line says otherwise.
"""

from __future__ import annotations

import argparse

import torch

from engine.catalog import Kind
from engine.sampling.decoding import STRATEGY_NAMES, Strategy, make_strategy
from engine.training.settings import TrainSettings


def add_common(parser: argparse.ArgumentParser, default) -> None:
    """--device and --data, accepted before or after the command name."""
    parser.add_argument("--device", default=default, help="auto, cpu, cuda, cuda:N or mps (env GENSCOPE_DEVICE)")
    parser.add_argument("--data", default=default, help="data folder (env GENSCOPE_DATA)")


def common_parent() -> argparse.ArgumentParser:
    """A parent parser with --device/--data that leaves them alone when not given after the command."""
    common = argparse.ArgumentParser(add_help=False)
    add_common(common, argparse.SUPPRESS)
    return common


def add_threads(p: argparse.ArgumentParser, default: int | None = None) -> None:
    p.add_argument("--threads", type=int, default=default,
                   help="torch CPU threads (1 leaves the other cores free; default: "
                        + ("one per core)" if default is None else f"{default})"))


def set_threads(threads: int | None) -> None:
    """The one place the CLI sets torch's CPU thread count (None: leave torch's default)."""
    if threads:
        torch.set_num_threads(threads)


def add_kind_options(p: argparse.ArgumentParser, entry: Kind) -> None:
    """The catalog's options of ``entry`` as flags; each defaults to None (the catalog's default applies)."""
    g = p.add_argument_group(f"{entry.kind} settings")
    for o in entry.options:
        default = o.default if not isinstance(o.default, list) else " ".join(map(str, o.default))
        help_text = f"{o.help} [default {default}]"
        if o.type is bool:
            g.add_argument(o.cli_flag, dest=o.name, action="store_true", default=None, help=help_text)
        else:
            g.add_argument(o.cli_flag, dest=o.name, type=o.type, default=None, nargs="+" if o.many else None,
                           choices=o.choices, help=help_text)


def kind_options(args: argparse.Namespace, entry: Kind) -> dict:
    """The option values the command line gave for ``entry`` (unset ones left out)."""
    given = {o.name: getattr(args, o.name, None) for o in entry.options}
    return {k: v for k, v in given.items() if v is not None}


def add_train_settings(p: argparse.ArgumentParser) -> None:
    """Training settings (unset: the kind's catalog defaults)."""
    g = p.add_argument_group("training (default: the model's own, from the catalog)")
    g.add_argument("--epochs", type=int, default=None)
    g.add_argument("--batch-size", type=int, default=None)
    g.add_argument("--lr", type=float, default=None)
    g.add_argument("--lr-decay", type=float, default=None, help="learning-rate factor per epoch (default 1)")
    g.add_argument("--seed", type=int, default=None, help="default 0")
    g.add_argument("--limit", type=int, default=None, help="use only the first N training examples")
    add_threads(g)


def train_settings(args: argparse.Namespace, entry: Kind, base: dict | None = None) -> TrainSettings:
    """The command line's settings over ``base`` (default: the kind's catalog defaults); ConfigError if out of range."""
    given = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
             "lr_decay": args.lr_decay, "threads": args.threads, "device": args.device,
             **{k: getattr(args, k, None) for k in ("max_steps", "checkpoint_every", "sample_every")}}
    return TrainSettings(**{**(entry.settings if base is None else base), **{k: v for k, v in given.items() if v is not None}})


def add_strategy(p: argparse.ArgumentParser) -> None:
    """The decoding strategy flags (see :func:`engine.sampling.decoding.make_strategy`)."""
    p.add_argument("--strategy", default="sample", help=f"one of: {', '.join(STRATEGY_NAMES)} (default sample)")
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--min-p", type=float, default=None)
    p.add_argument("--beam-width", type=int, default=None)


def strategy_from(args: argparse.Namespace) -> Strategy:
    """The command line's strategy (ConfigError, one sentence, when its settings do not fit)."""
    return make_strategy(args.strategy, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                         min_p=args.min_p, beam_width=args.beam_width)
