"""``python -m engine eval KIND --checkpoint FILE [--save]``: a checkpoint's test metrics, by the kind's catalog entry.

    python -m engine eval vae --checkpoint assets/vae.safetensors --k 1000 --save
    python -m engine eval pixelcnn --checkpoint assets/pixelcnn.safetensors     # exact test NLL
    python -m engine eval vae --checkpoint assets/vae.safetensors --priors      # N(0, I) / GMM / MAF prior table

``--save`` stores the metrics in the checkpoint's config and rewrites its
model card (:func:`engine.cards.common.save_test_metrics`); ``--save --half``
first stores the weights as float16 (:func:`engine.checkpoints.store_half`).
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from engine.catalog import KINDS, check_work, get, load_model, resolve
from engine.cli.options import add_threads, set_threads
from engine.checkpoints import read_config, store_half
from engine.device import select_device
from engine.errors import ConfigError


def add_eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", help=f"model kind the checkpoint must hold: {', '.join(KINDS)}")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--k", type=int, default=1000, help="importance samples per image (default 1000)")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N test examples")
    p.add_argument("--batch", type=int, default=100, help="test images per batch (default 100)")
    p.add_argument("--seed", type=int, default=0)
    add_threads(p)
    p.add_argument("--save", action="store_true", help="store the metrics in the checkpoint and write its model card")
    p.add_argument("--half", action="store_true",
                   help="with --save: first rewrite the checkpoint with float16 weights (half the file), so the "
                        "metrics are those of the stored, rounded weights")
    p.add_argument("--priors", action="store_true",
                   help="vae: the test ELBO and log p(x) under N(0, I), a Gaussian mixture (best K by BIC) and a "
                        "MAF, both fitted on the training images' codes (--limit: N evenly spaced test digits)")
    p.add_argument("--flow-epochs", type=int, default=30, help="with --priors: epochs of the MAF prior (default 30)")


def cmd_eval(args: argparse.Namespace) -> int:
    entry = get(args.kind)
    if entry.evaluate is None:
        raise ConfigError(f"GenScope has no test evaluation for a {args.kind} model.")
    return resolve(entry.evaluate)(args)


def load_for_eval(args: argparse.Namespace) -> tuple[nn.Module, torch.device]:
    """Set ``--threads``; load ``--checkpoint`` (it must hold a ``kind`` model) on ``--device`` in eval mode; (model, device).

    An evaluation's ``--batch`` is checked against the memory budget first. ``--half`` (with ``--save``) stores the
    checkpoint's weights as float16 before loading it, so what is measured is what the file holds."""
    set_threads(args.threads)
    if getattr(args, "half", False):
        if not args.save:
            raise ConfigError("--half rewrites the checkpoint with float16 weights; use it together with --save.")
        read_config(args.checkpoint, expected_kind=args.kind)  # the wrong kind is refused before anything is written
        store_half(args.checkpoint)
    device = select_device(args.device)
    model = load_model(args.checkpoint, expected_kind=args.kind, device=device)
    if getattr(args, "batch", None):
        check_work(model, args.batch, f"batches of {args.batch} images")
    return model, device


EVAL_COMMAND = ("eval", "test ELBO / log-likelihood (pixelcnn, wavenet: exact test NLL) of a checkpoint",
                add_eval_args, cmd_eval)
