"""``train`` and ``eval`` of the latent-variable kinds (vae, autoencoder, ppca), as :mod:`engine.catalog` names them::

    python -m engine train vae --latent 2 --beta 1 --epochs 30 --out assets/vae.safetensors
    python -m engine eval vae --checkpoint assets/vae.safetensors --k 1000 --save

Training uses the 60k MNIST training images scaled to [0, 1] (dynamically
binarized for the Bernoulli models); the static binarized validation split,
when present, is the validation set. PPCA is fitted in closed form.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from engine.catalog import build_model, get
from engine.cards.common import save_test_metrics
from engine.cards.latent import MNIST_LICENSE
from engine.checkpoints import save_checkpoint
from engine.cli.options import kind_options, set_threads, train_settings
from engine.cli.eval import load_for_eval
from engine.cli.progress import track
from engine.cli.train import report_training
from engine.data.folder import resolve_data_folder
from engine.data.mnist import load_binarized_mnist, load_mnist
from engine.device import select_device, seed_everything
from engine.errors import ConfigError, DataError
from engine.events import Done
from engine.evaluation.latent_prior import CODES_NOTE, learned_prior_study
from engine.evaluation.likelihood import evaluate_model
from engine.training.loop import train
from engine.training.step import checkpoint_config


def ppca_hparams(values: dict) -> dict:
    """PPCA's constructor arguments: MNIST's 784 pixels and the latent size."""
    return {"data_dim": 784, "latent_dim": values["latent_dim"]}


def _data_info(n: int, binarization: str, validation: str | None = None) -> dict:
    info = {"dataset": "MNIST", "split": "train", "examples": n, "license": MNIST_LICENSE, "binarization": binarization}
    return {**info, "validation": validation} if validation else info


def _fit_ppca(model, images: np.ndarray, out: Path) -> None:
    start = time.perf_counter()
    x = torch.as_tensor(images).reshape(len(images), -1).double() / 255.0
    model.fit(x)
    train_ll = float(model.log_prob(x).mean())
    training = {"method": "closed form (eigen-decomposition)", "seconds": round(time.perf_counter() - start, 1)}
    cfg = checkpoint_config(model, _data_info(len(x), "none (intensities in [0, 1])"),
                            {"train": {"log_prob": train_ll}}, training)
    save_checkpoint(out, model.state_dict(), cfg)
    print(f"PPCA fitted in {training['seconds']} s: sigma2 {float(model.sigma2):.4f}, train log p(x) {train_ll:.1f} nats")


def train_latent(args: argparse.Namespace) -> int:
    """``train vae|autoencoder|ppca --out FILE``: MNIST train images, one checkpoint per epoch."""
    entry = get(args.kind)
    s = train_settings(args, entry)
    set_threads(s.threads)
    folder = resolve_data_folder(args.data).path
    images, _ = load_mnist(folder, "train")
    images = images[: args.limit] if args.limit else images
    device = select_device(args.device)
    seed_everything(s.seed)  # initial weights
    model = build_model(args.kind, entry.hparams_from(kind_options(args, entry)))
    out = Path(args.out)
    if not entry.iterative:
        _fit_ppca(model, images, out)
        return 0
    try:
        val = load_binarized_mnist(folder, "valid").astype(np.float32)  # 0/1, not 0..255
        val_name = f"binarized MNIST valid split (static), {len(val)} images"
    except DataError:
        val, val_name = None, None
    events = train(model, images, val_data=val, epochs=s.epochs, batch_size=s.batch_size, lr=s.lr,
                   lr_decay=s.lr_decay, seed=s.seed, device=device, dynamic_binarize=True,
                   checkpoint_path=out, data_info=_data_info(len(images), "dynamic", val_name))
    report_training(events, out)
    return 0


def eval_latent(args: argparse.Namespace) -> int:
    """ELBO / importance-weighted log-likelihood on the MNIST test set; ``--save`` stores them and writes the card."""
    if getattr(args, "priors", False):
        return eval_priors(args)
    model, device = load_for_eval(args)
    folder = resolve_data_folder(args.data).path
    metrics: dict = {}
    events = evaluate_model(model, folder, k=args.k, limit=args.limit, batch=args.batch, seed=args.seed, device=device)
    for event in track(events, unit="image"):
        if isinstance(event, Done):
            metrics = event.result
    for name, value in metrics.items():
        print(f"{name:<22} {value:.3f}" if isinstance(value, float) else f"{name:<22} {value}")
    if args.save:
        card = save_test_metrics(args.checkpoint, metrics)
        print(f"metrics stored in {args.checkpoint}; model card {card}")
    return 0


def eval_priors(args: argparse.Namespace) -> int:
    """``eval vae --priors``: the test ELBO and log p(x) under N(0, I), the best-BIC mixture and a MAF prior."""
    if args.kind != "vae":
        raise ConfigError(f"--priors compares priors of a VAE; a {args.kind} model has no prior to replace.")
    model, _ = load_for_eval(args)
    folder = resolve_data_folder(args.data).path
    table = None
    events = learned_prior_study(model, folder, k=args.k, limit=args.limit, flow_epochs=args.flow_epochs,
                                 seed=args.seed)
    for event in track(events, unit="step"):
        if isinstance(event, Done):
            table = event.result
    print(f"Priors fitted on {CODES_NOTE}; scored on {table.images} digits (evenly spaced) of the {table.test_set}, "
          f"k = {table.k} draws of q(z|x) per digit, nats per digit (higher is better):")
    print(table.text())
    return 0
