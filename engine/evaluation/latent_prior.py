"""The test ELBO and importance-sampled log p(x) of a VAE under several priors p(z), in one table.

:func:`prior_table` scores test images under each prior from the same k
draws z ~ q(z|x) per image (``VAE.prior_bounds``, the one IWAE code), so the
priors' differences are not sampling noise. :func:`learned_prior_study` is
the whole comparison: N(0, I), the Gaussian mixture with the best K by BIC
and a MAF, both fitted on draws of q(z|x) for the training images, on the
static binarized MNIST test digits.

The prior gap: averaged over images, ELBO = E[log p(x|z)] - I(x; z) -
KL(q(z) || p(z)), where q(z) = mean_x q(z|x) is the aggregate posterior of
the scored images (Hoffman & Johnson 2016). Only the last term depends on
the prior; it is 0 for p = q(z). :func:`aggregate_kl` estimates it for each
prior, so the table says how much of the gap a learned prior closes.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from engine.data.mnist import load_binarized_mnist
from engine.device import make_generator
from engine.errors import ConfigError
from engine.events import Done, Progress
from engine.evaluation.lens import subset
from engine.evaluation.likelihood import STATIC_TEST
from engine.models.latent_prior import StandardNormal
from engine.models.vae import standard_normal
from engine.training.latent_prior import CODES_NOTE, fit_flow_prior, fit_mixture_prior, training_codes

NAMES = {"N(0, I)": "normal", "GMM": "gmm", "MAF": "maf"}  # a label starting with the key -> figure name


def _figure_name(label: str) -> str:
    return next((name for key, name in NAMES.items() if label.startswith(key)), label)


@dataclass(frozen=True)
class PriorTable:
    """Mean nats per test image under each prior: labels (P,), elbo (P,), log_px (P,); k draws per image."""

    labels: tuple[str, ...]
    elbo: tuple[float, ...]
    log_px: tuple[float, ...]
    k: int
    images: int
    seconds: float
    test_set: str = STATIC_TEST
    prior_kl: tuple[float, ...] = ()  # KL(q(z) || p) per prior (nats): the prior gap, see aggregate_kl

    def gaps(self) -> tuple[float, ...]:
        """log p(x) - ELBO under each prior (nats, >= 0 up to noise)."""
        return tuple(b - a for a, b in zip(self.elbo, self.log_px))

    def figures(self) -> dict:
        """Flat JSON-able figures per prior (names: normal, gmm, maf): elbo_<name>, iwae_<name>, gap_<name>
        (log p(x) - ELBO) and prior_gap_<name> (KL(q(z) || p)); with N(0, I) and the MAF in the table also
        gap_narrowed_nats (the variational gap's change), prior_gap_narrowed_nats and prior_gap_closed_fraction."""
        out: dict = {}
        for i, (label, elbo, log_px) in enumerate(zip(self.labels, self.elbo, self.log_px)):
            name = _figure_name(label)
            out.update({f"elbo_{name}": round(elbo, 3), f"iwae_{name}": round(log_px, 3),
                        f"gap_{name}": round(log_px - elbo, 3)})
            if self.prior_kl:
                out[f"prior_gap_{name}"] = round(self.prior_kl[i], 3)
        if "gap_normal" in out and "gap_maf" in out:
            out["gap_narrowed_nats"] = round(out["gap_normal"] - out["gap_maf"], 3)
        if "prior_gap_normal" in out and "prior_gap_maf" in out:
            out["prior_gap_narrowed_nats"] = round(out["prior_gap_normal"] - out["prior_gap_maf"], 3)
            out["prior_gap_closed_fraction"] = round(out["prior_gap_narrowed_nats"] / out["prior_gap_normal"], 3)
        return {**out, "k": self.k, "test_images": self.images}

    def text(self) -> str:
        """The table as aligned lines (nats per image; higher is better)."""
        lines = [f"{'prior':<16}{'ELBO':>10}{'log p(x)':>11}{'gap':>8}{'KL(q(z)||p)':>13}"]
        kls = self.prior_kl or (float("nan"),) * len(self.labels)
        for label, elbo, log_px, kl in zip(self.labels, self.elbo, self.log_px, kls):
            lines.append(f"{label:<16}{elbo:>10.2f}{log_px:>11.2f}{log_px - elbo:>8.2f}{kl:>13.3f}")
        return "\n".join(lines)


@torch.no_grad()
def aggregate_kl(mu: torch.Tensor, logvar: torch.Tensor, priors: list, *, draws: int = 5,
                 generator: torch.Generator | None = None, budget: int = 20_000_000) -> list[float]:
    """KL(q(z) || p) in nats for each prior p (``log_prob(z (M, L)) -> (M,)``), where q(z) is the mixture of the
    N diagonal Gaussians q(z|x_n) = N(mu_n, exp(logvar_n)), mu and logvar (N, L).

    Monte Carlo over ``draws`` z per component (M = draws * N), log q(z) exactly as the log-mean-exp over
    all N components (at most ``budget`` numbers, ~80 MB, alive at a time). Every prior is scored on the same draws.
    """
    std, chunk = torch.exp(0.5 * logvar), max(1, int(budget) // (mu.shape[0] * mu.shape[1]))
    z = (mu[None] + std[None] * standard_normal((int(draws), *mu.shape), mu, generator)).reshape(-1, mu.shape[1])
    log_q = torch.cat([torch.logsumexp(-0.5 * (((c[:, None] - mu[None]) / std[None]) ** 2 + logvar[None]
                                             + math.log(2 * math.pi)).sum(-1), 1) for c in z.split(chunk)])
    log_q = log_q.double() - math.log(len(mu))
    return [float((log_q - p.log_prob(z).double().to(log_q.device)).mean()) for p in priors]


@torch.no_grad()
def prior_table(model, x: torch.Tensor, priors: dict, *, k: int = 1000, batch: int = 100,
                seed: int = 0) -> Iterator[object]:
    """Score binary test images x (N, 784) under each of ``priors`` ({label: prior}; a prior has ``log_prob``).

    Yields Progress per batch of ``batch`` images and Done(:class:`PriorTable`). Same seed, same numbers.
    """
    if getattr(model, "kind", "") != "vae":
        raise ConfigError("The prior table needs a VAE: a model with a prior and an encoder q(z|x).")
    model.eval()
    gen, start = make_generator(seed), time.perf_counter()
    labels, plist = list(priors), list(priors.values())
    sums = torch.zeros(2, len(plist), dtype=torch.float64)
    for i in range(0, len(x), batch):
        elbo, log_px = model.prior_bounds(x[i : i + batch], k, plist, generator=gen)
        sums += torch.stack([elbo.double().sum(1), log_px.double().sum(1)])
        yield Progress(min(i + batch, len(x)), len(x), "scoring the test digits under each prior")
    means = (sums / len(x)).tolist()
    mu, logvar = model.encode(x.reshape(len(x), -1))
    kls = aggregate_kl(mu, logvar, [StandardNormal(mu.shape[1]) if p is None else p for p in plist], generator=gen)
    yield Done(PriorTable(tuple(labels), tuple(means[0]), tuple(means[1]), int(k), len(x),
                          round(time.perf_counter() - start, 1), prior_kl=tuple(kls)))


def learned_prior_study(model, root: str | os.PathLike, *, k: int = 1000, limit: int | None = None,
                        flow=None, flow_epochs: int = 30, k_max: int = 10, seed: int = 0,
                        train_limit: int | None = None) -> Iterator[object]:
    """N(0, I), the best-BIC mixture and a MAF (``flow``, or one trained for ``flow_epochs``) as priors of ``model``.

    Both learned priors are fitted on one draw of q(z|x) per static binarized MNIST training image under
    ``root`` (the first ``train_limit`` images, default all); the table scores ``limit`` evenly spaced (all
    10,000 by default) static binarized test digits with k draws each (evenly spaced: the test file runs in
    blocks of very different difficulty). Yields the fits' and the scoring's Progress events and
    Done(:class:`PriorTable`).
    """
    rows = load_binarized_mnist(root, "test")
    x = torch.as_tensor(rows[subset(len(rows), limit or len(rows))].astype(np.float32))
    codes = training_codes(model, root, limit=train_limit, seed=seed)
    fits = {"GMM": fit_mixture_prior(codes, k_max, seed)}
    if flow is None:
        fits["MAF"] = fit_flow_prior(codes, epochs=flow_epochs, seed=seed)
    priors = {"N(0, I)": StandardNormal(codes.shape[1])}
    for name, events in fits.items():
        for event in events:
            if isinstance(event, Done):
                priors[name] = event.result
            else:
                yield event
    if flow is not None:
        priors["MAF"] = flow
    priors = {f"GMM, K = {priors['GMM'].gmm.n_components}" if n == "GMM" else n: p for n, p in priors.items()}
    yield from prior_table(model, x, priors, k=k, seed=seed)


__all__ = ["CODES_NOTE", "PriorTable", "aggregate_kl", "learned_prior_study", "prior_table"]
