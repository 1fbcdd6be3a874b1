"""Options several commands share: the catalog's per-kind options, training settings, threads, decoding strategy,
and the bounds every command's numbers are checked against (:data:`LIMITS`, :func:`check_limits`).

Every option defaults to None ("unset") so that the catalog's defaults
(:mod:`engine.catalog`) apply: ``train pixelcnn`` trains with the
PixelCNN's epochs and batch size unless the command line says otherwise.
"""

from __future__ import annotations

import argparse

import torch

from engine.catalog import Kind
from engine.models.limits import Option
from engine.sampling.decoding import STRATEGY_NAMES, Strategy, make_strategy
from engine.training.settings import TrainSettings


def _limit(name: str, kind: type, low: float, high: float, flag: str | None = None) -> tuple[str, Option]:
    return name, Option(name, None, kind, low=low, high=high, flag=flag)


_BIG = 10**9
# Every number a command takes, by its argparse name: how much work one command may ask for.
LIMITS: dict[str, Option] = dict((
    _limit("n", int, 1, 1024, "-n"), _limit("beam_width", int, 1, 64), _limit("scale", int, 1, 16),
    _limit("seconds", float, 0.01, 600), _limit("prime_seconds", float, 0.001, 60), _limit("threads", int, 1, 256),
    _limit("temperature", float, 0, 1000), _limit("top_k", int, 1, 1 << 20), _limit("top_p", float, 0, 1),
    _limit("min_p", float, 0, 1), _limit("seed", int, 0, 2**32 - 1), _limit("index", int, 0, 10**7),
    _limit("label", int, 0, 100_000), _limit("digit", int, 0, 100_000), _limit("length", int, 1, 1 << 20),
    _limit("epochs", int, 1, 100_000), _limit("batch_size", int, 1, 65536), _limit("lr", float, 0, 100),
    _limit("set_lr", float, 0, 100), _limit("lr_decay", float, 0, 100), _limit("weight_decay", float, 0, 1), _limit("limit", int, 1, _BIG),
    _limit("max_steps", int, 1, _BIG), _limit("checkpoint_every", int, 0, _BIG),
    _limit("sample_every", int, 0, _BIG), _limit("k", int, 1, 100_000), _limit("batch", int, 1, 10_000),
    _limit("max_iter", int, 1, 1_000_000), _limit("tol", float, 0, 1e6), _limit("reg_covar", float, 0, 1e6),
))


def check_limits(args: argparse.Namespace) -> None:
    """ConfigError naming the flag and its limit for the first number in ``args`` outside :data:`LIMITS`
    (nan and infinity included); unset (None) values pass."""
    for name, row in LIMITS.items():
        value = getattr(args, name, None)
        if value is not None:
            row.check(value)


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
    g.add_argument("--weight-decay", type=float, default=None, help="decoupled weight decay (AdamW; default 0: Adam)")
    g.add_argument("--seed", type=int, default=None, help="default 0")
    g.add_argument("--limit", type=int, default=None, help="use only the first N training examples")
    g.add_argument("--text", default=None, help="--dataset text: your UTF-8 text file, or a folder of .txt files")
    add_threads(g)


def train_settings(args: argparse.Namespace, entry: Kind, base: dict | None = None) -> TrainSettings:
    """The command line's settings over ``base`` (default: the kind's catalog defaults); ConfigError if out of range."""
    given = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
             "lr_decay": args.lr_decay, "threads": args.threads, "device": args.device,
             "weight_decay": getattr(args, "weight_decay", None),
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
