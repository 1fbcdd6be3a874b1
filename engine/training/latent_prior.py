"""Learned priors for a VAE's latent space, fitted on draws of its aggregate posterior over the training images.

:func:`training_codes` draws one z ~ q(z|x) per static binarized MNIST
training image: samples of the aggregate posterior q(z) = mean_x q(z|x),
the prior that maximizes the ELBO for the trained encoder and decoder (the
encoder means alone would miss each posterior's spread and fit a prior too
narrow);
:func:`fit_flow_prior` trains a MAF (``engine.models.flows``) on codes with
the one training loop (:func:`engine.training.loop.train`), and
:func:`fit_mixture_prior` fits Gaussian mixtures and keeps the K with the
lowest BIC. Both are generators of progress events ending in
``Done(prior)``, for the CLI and for the app's worker alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from engine.catalog import load_model
from engine.data.mnist import load_binarized_mnist
from engine.errors import DataError
from engine.events import Done, Progress
from engine.models.flows import MAF
from engine.models.gmm import GaussianMixture, choose_k
from engine.models.latent_prior import MixturePrior, TiedPrior
from engine.sampling.latent import encode_images
from engine.training.loop import EpochEnd, train

FLOW_SETTINGS = {"layers": 5, "hidden": [64, 64]}
CODES_NOTE = "one draw of q(z|x) for each of the 50,000 static binarized MNIST training images"


def training_codes(model, root: str | os.PathLike, limit: int | None = None, seed: int = 0) -> np.ndarray:
    """One draw z ~ q(z|x) (N, L) per static binarized MNIST training image (the first ``limit``) under ``root``:
    samples of the aggregate posterior (the encoder means when the model has no posterior variance)."""
    images = load_binarized_mnist(root, "train")
    images = images[:limit] if limit else images
    means, logvars = encode_images(model, images.astype(np.float32))
    if logvars is None:
        return means
    noise = np.random.default_rng(seed).standard_normal(means.shape).astype(np.float32)
    return means + np.exp(0.5 * logvars) * noise


def _check_codes(codes: np.ndarray) -> np.ndarray:
    codes = np.asarray(codes, np.float32)
    if codes.ndim != 2 or len(codes) < 10 or not np.isfinite(codes).all():
        raise DataError(f"A prior needs at least 10 finite latent codes as (N, L) values, got shape {codes.shape}.")
    return codes


def fit_flow_prior(codes: np.ndarray, *, epochs: int = 30, batch_size: int = 1024, lr: float = 3e-3,
                   seed: int = 0, layers: int = FLOW_SETTINGS["layers"],
                   hidden: list[int] | None = None) -> Iterator[object]:
    """Train a MAF on ``codes`` (N, L) by maximum likelihood: the loop's events, a Progress per epoch, Done(maf).

    Same codes and seed, same flow (the initial weights come from ``seed``, the batches from the loop).
    """
    codes = _check_codes(codes)
    flow = MAF(dim=codes.shape[1], layers=layers, hidden=list(hidden or FLOW_SETTINGS["hidden"]), seed=seed)
    events = train(flow, torch.from_numpy(codes), epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                   dynamic_binarize=False, log_every=10**9)
    for event in events:
        if isinstance(event, EpochEnd):
            yield Progress(event.epoch, epochs, f"flow prior: epoch {event.epoch}, "
                                                f"train NLL {event.train.get('loss', float('nan')):.3f} nats")
    flow.eval()
    yield Done(flow)


def fit_mixture_prior(codes: np.ndarray, k_max: int = 10, seed: int = 0) -> Iterator[object]:
    """Fit full-covariance mixtures with K = 1..k_max to ``codes`` (N, L): Progress per K, Done(MixturePrior) of
    the K with the lowest BIC (refitted with the same seed)."""
    codes = _check_codes(codes)
    result = None
    for event in choose_k(codes, k_max, "full", seed=seed):
        if isinstance(event, Done):
            result = event.result
        else:
            yield Progress(event.done, event.total, f"mixture prior: {event.message}")
    ks, bic, _ = result
    best = int(ks[int(np.argmin(bic))])
    yield Done(MixturePrior(GaussianMixture(best, covariance_type="full", seed=seed, max_iter=200).fit(codes)))


def tied_flow_prior(checkpoint, root, fallback_codes: np.ndarray | None = None, space: str = "",
                    epochs: int = 30, seed: int = 0) -> Iterator[object]:
    """Fit a MAF prior in the latent space of the VAE in ``checkpoint``: Done(TiedPrior) after the fit's events.

    The codes are draws of q(z|x), one per training image, when ``root`` holds the static binarized MNIST, else
    ``fallback_codes`` (N, L) (the map's test codes; the note says so). The model is loaded afresh here, so the
    job owns what it uses.
    """
    model = load_model(checkpoint, expected_kind="vae")
    try:
        if root is None:
            raise DataError("No data folder.")
        codes, note = training_codes(model, root, seed=seed), f"fitted on {CODES_NOTE}"
    except DataError:
        if fallback_codes is None:
            raise
        codes = fallback_codes
        note = (f"fitted on the {len(codes):,} test digits' codes shown on the map (no binarized MNIST training "
                "images in the data folder)")
    flow = None
    for event in fit_flow_prior(codes, epochs=epochs, seed=seed):
        if isinstance(event, Done):
            flow = event.result
        else:
            yield event
    note = f"{flow.n_layers} layers, {note}"
    yield Done(TiedPrior(flow, Path(checkpoint), codes.shape[1], space or Path(checkpoint).stem, "MAF", note))
