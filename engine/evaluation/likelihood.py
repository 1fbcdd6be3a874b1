"""Test-set evaluation of the latent-variable models, as a generator of progress events.

:func:`evaluate_model` yields :class:`~engine.events.Progress` per batch of
test images and a final :class:`~engine.events.Done` whose result is a flat
dict of metrics (JSON-able, stored in checkpoints and model cards):

- VAE: ELBO = recon - KL (1 reparameterized sample per image) and the
  importance-weighted log-likelihood estimate with ``k`` samples, in nats per
  image, on the STATIC binarized MNIST test set (10k images).
- Autoencoder: the reconstruction log-likelihood log p(x | f(x)) on the same
  set (not a likelihood of x: the code is not integrated out).
- PPCA: the exact marginal log-density of MNIST test intensities / 255
  (continuous, not comparable with the binary models' nats), plus its
  importance-sampled estimate with the posterior as proposal as a check.

The autoregressive kinds have exact likelihoods: :func:`exact_nll` (the
PixelCNN's nats per image and bits/dim over rows of a test split) and
:func:`clip_nll` (the WaveNet's bits per sample over whole clips), with
:func:`unigram_bits` as the no-context baseline.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from engine.data.mnist import load_binarized_mnist, load_mnist
from engine.device import make_generator
from engine.events import Done, Progress

STATIC_TEST = "binarized MNIST test (static binarization, Larochelle & Murray)"
CONTINUOUS_TEST = "MNIST test, intensities / 255 (continuous)"


def _test_images(model: nn.Module, root: str | os.PathLike, limit: int | None) -> tuple[torch.Tensor, str]:
    """(N, 784) float test images for ``model``'s kind, and the name of the test set."""
    if model.kind == "ppca":
        images, _ = load_mnist(root, "test")
        x, name = torch.as_tensor(images.reshape(len(images), -1)).double() / 255.0, CONTINUOUS_TEST
    else:
        x, name = torch.as_tensor(load_binarized_mnist(root, "test").astype(np.float32)), STATIC_TEST
    return (x[:limit] if limit else x), name


def _batch_metrics(model: nn.Module, x: torch.Tensor, k: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Per-image metrics (each (B,)) of one batch x (B, 784) for the model's kind."""
    if model.kind == "vae":
        parts = model.elbo(x, generator=gen)
        return {"elbo": parts.elbo, "recon": parts.recon, "kl": parts.kl,
                "log_likelihood": model.iwae_log_likelihood(x, k, generator=gen)}
    if model.kind == "autoencoder":
        return {"recon": model.reconstruction_log_prob(x)}
    return {"log_likelihood": model.log_prob(x), "log_likelihood_is": model.importance_log_likelihood(x, k, generator=gen)}


@torch.no_grad()
def evaluate_model(
    model: nn.Module,
    root: str | os.PathLike,
    *,
    k: int = 1000,
    limit: int | None = None,
    batch: int = 100,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> Iterator[object]:
    """Evaluate ``model`` (kind vae, autoencoder or ppca) on the test set under data folder ``root``.

    Yields Progress(done=images, total=N) per batch of ``batch`` images and
    Done(metrics): mean nats per image plus test_set, test_images, k, seconds.
    Noise comes from a generator seeded with ``seed``: same seed, same numbers.
    """
    x, test_set = _test_images(model, root, limit)
    model.to(device).eval()
    gen = make_generator(seed, device)
    start, sums = time.perf_counter(), {}
    for i in range(0, len(x), batch):
        chunk = x[i : i + batch].to(device)
        for name, values in _batch_metrics(model, chunk, k, gen).items():
            sums[name] = sums.get(name, 0.0) + float(values.double().sum())
        yield Progress(min(i + batch, len(x)), len(x), "evaluating")
    metrics: dict = {name: total / len(x) for name, total in sums.items()}
    metrics.update({"test_set": test_set, "test_images": len(x), "seconds": round(time.perf_counter() - start, 1)})
    if model.kind != "autoencoder":
        metrics["k"] = int(k)
    yield Done(metrics)


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def exact_nll(model: nn.Module, rows: np.ndarray, batch: int = 500) -> Iterator[object]:
    """Yield Progress per batch and Done({nll_nats, bits_per_dim, test_images}) over test ``rows``.

    ``rows`` (N, H*W [+1 label]): uint8 0..255 (divided by 255) or 0/1 floats;
    ``model.loss`` is the exact NLL in nats per image (a PixelCNN's).
    """
    from engine.models.pixelcnn import bits_per_dim

    total, n = 0.0, len(rows)
    for start in range(0, n, batch):
        x = torch.as_tensor(rows[start : start + batch]).float()
        x = x / 255.0 if rows.dtype == np.uint8 else x
        loss, _ = model.loss(x.to(_device_of(model)))
        total += float(loss) * len(x)
        yield Progress(min(start + batch, n), n, "test NLL")
    nll = total / n
    yield Done({"nll_nats": nll, "bits_per_dim": float(bits_per_dim(nll, model.height * model.width)), "test_images": n})


@torch.no_grad()
def ensemble_nll(model: nn.Module, rows: np.ndarray, counts: tuple[int, ...], batch: int = 500) -> Iterator[object]:
    """Yield Progress per batch and Done({count: nll nats}) for a MADE's ensembles of its first ``count`` mask sets.

    An ensemble's log p(x) is the log of the mean probability over its masks
    (``model.ensemble_log_prob``); every count is computed from the same
    per-mask log-probabilities, one pass per mask set.
    """
    n, masks = len(rows), max(counts)
    totals = dict.fromkeys(counts, 0.0)
    keep = model.mask_index
    try:
        for start in range(0, n, batch):
            x = torch.as_tensor(rows[start : start + batch]).float().to(_device_of(model))
            per_mask = []
            for index in range(masks):
                model.select(index)
                per_mask.append(model.log_prob(x))
            stacked = torch.stack(per_mask)  # (M, B)
            for c in counts:
                totals[c] -= float((torch.logsumexp(stacked[:c], 0) - math.log(c)).sum())
            yield Progress(min(start + batch, n), n, f"ensembles of up to {masks} masks")
    finally:
        model.select(keep)
    yield Done({c: t / n for c, t in totals.items()})


@torch.no_grad()
def clip_nll(model: nn.Module, data) -> Iterator[object]:
    """Yield Progress per clip and Done({bits_per_sample, nats_per_sample, clips, samples}) over whole clips.

    ``data``: an :class:`~engine.data.audio.AudioSet` (clips (T,) floats, labels);
    ``model.log_prob(codes (1, T), label)`` is a WaveNet's exact log-likelihood.
    """
    from engine.data.sound import mu_law_encode
    from engine.models.wavenet import bits_per_sample

    total, n = 0.0, 0
    device = _device_of(model)
    for i, clip in enumerate(data.clips):
        codes = torch.as_tensor(mu_law_encode(clip, model.levels))[None].to(device)
        label = None if model.cond_classes == 0 else torch.tensor([int(data.labels[i])], device=device)
        total -= float(model.log_prob(codes, label))
        n += codes.shape[1]
        yield Progress(i + 1, len(data.clips), "test NLL")
    yield Done({"nats_per_sample": total / n, "bits_per_sample": float(bits_per_sample(total / n)),
                "clips": len(data.clips), "samples": n})


def unigram_bits(train, test, levels: int) -> float:
    """Bits per test sample under the training set's μ-law histogram (add-one smoothed): the no-context baseline."""
    from engine.data.sound import mu_law_encode

    counts = np.ones(levels)
    for clip in train.clips:
        counts += np.bincount(mu_law_encode(clip, levels), minlength=levels)
    log2p = np.log2(counts / counts.sum())
    return float(-np.mean(np.concatenate([log2p[mu_law_encode(c, levels)] for c in test.clips])))
