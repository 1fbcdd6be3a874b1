"""``python -m engine train KIND ...``: train any kind of :mod:`engine.catalog` to a checkpoint or a run folder::

    python -m engine train vae --latent 2 --beta 1 --epochs 30 --out assets/vae.safetensors
    python -m engine train pixelcnn --channels 32 --layers 5 --epochs 6 --out /tmp/pixelcnn.safetensors
    python -m engine train vae --dataset generated --epochs 5 --run-dir runs/my-vae

Each kind has its own options (from its catalog entry: ``train KIND --help``
lists them). Every option defaults to unset, so the kind's catalog defaults
apply. ``--out FILE`` runs the kind's own ``train`` function;
``--run-dir DIR`` trains a run folder (:mod:`engine.cli.run`).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

from engine.catalog import KINDS, get, resolve
from engine.checkpoints import load_checkpoint, save_checkpoint

from engine.cli.options import add_kind_options, add_train_settings, common_parent
from engine.cli.progress import drain_training
from engine.cli.run import add_run_args, cmd_train_run
from engine.errors import ConfigError


def add_train_args(p: argparse.ArgumentParser) -> None:
    """One sub-command per catalog kind, each with the training settings, its own options and the run options."""
    kinds = p.add_subparsers(dest="kind", metavar="kind", required=True,
                             help=f"model kind: {', '.join(KINDS)} (a β-VAE is `vae --beta 4`)")
    for name, entry in KINDS.items():
        k = kinds.add_parser(name, parents=[common_parent()], help=f"train a {name}",
                             description=f"Train a {name}; unset options take the catalog's defaults.")
        k.add_argument("--out", default=None, help="checkpoint to write (.safetensors); needed unless --run-dir is given")
        add_train_settings(k)
        add_kind_options(k, entry)
        add_run_args(k)


def cmd_train(args: argparse.Namespace) -> int:
    entry = get(args.kind)
    if args.run_dir:  # a run folder for the training monitor
        return cmd_train_run(args, entry)
    if not args.out:
        raise ConfigError("Say where the model goes: --out FILE.safetensors (or --run-dir DIR for a run folder).")
    if entry.train is None:
        raise ConfigError(f"A {args.kind} model trains only into a run folder: use --run-dir DIR (with --out FILE).")
    return resolve(entry.train)(args)


def report_training(events: Iterable[object], out: str | Path, key: str = "loss", keep_history: bool = False) -> None:
    """Print the training events of ``train ... --out`` and the summary line; ``keep_history`` stores the
    per-epoch ``key`` values in the checkpoint's config (``history``, for the model card)."""
    result, history = drain_training(events, key=key)
    if keep_history:
        ckpt = load_checkpoint(out)
        save_checkpoint(out, ckpt.state_dict, {**ckpt.config, "history": history})
    print(f"trained {result.get('steps')} steps in {result.get('seconds', 0):.0f} s -> {out}")


TRAIN_COMMAND = ("train", "train a model (vae, autoencoder, ppca, pixelcnn, wavenet, ...) to a checkpoint or run folder",
                 add_train_args, cmd_train)
__all__ = ["TRAIN_COMMAND", "add_train_args", "cmd_train", "report_training"]
