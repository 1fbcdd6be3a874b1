"""Variational autoencoder (Kingma & Welling 2014) and a plain autoencoder for 28x28 images.

Both share one encoder and one decoder building block; the decoder returns
Bernoulli LOGITS over 784 pixels (decoding to probabilities is ``decode``).
Shapes: ``B`` images, ``L`` latent dimensions, ``D = 784`` pixels. Images may
be passed as (B, 784), (B, 28, 28) or (B, 1, 28, 28); values are 0/1 for the
likelihood terms (intensities in [0, 1] work for the autoencoder's loss).

The β-VAE (Higgins et al. 2017) is the same class with ``beta != 1``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.errors import ConfigError

IMAGE_SHAPE = (28, 28)
N_PIXELS = 784
LOG_2PI = math.log(2 * math.pi)
ARCHS = ("mlp", "conv")
_ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU}


def cost(hp: dict) -> tuple[int, int]:
    """(weights, activation bytes per image) of a VAE or autoencoder with settings ``hp`` (already range-checked).

    An upper bound for either kind (the encoder counted with two outputs per latent dimension).
    """
    hidden, latent = list(hp.get("hidden", (512, 256))), int(hp.get("latent_dim", 2))
    if hp.get("arch", "mlp") == "mlp":
        sizes = [N_PIXELS, *hidden, 2 * latent] + [latent, *reversed(hidden), N_PIXELS]
        pairs = [(a, b) for a, b in zip(sizes, sizes[1:]) if (a, b) != (2 * latent, latent)]
    else:
        pairs = [(16, 32), (512, 64), (3136, hidden[-1]), (hidden[-1], 2 * latent), (latent, hidden[-1]),
                 (hidden[-1], 3136), (1024, 32), (512, 1)]
    weights = sum(a * b + b for a, b in pairs)
    return weights, 4 * 3 * (sum(b for _, b in pairs) + 64 * 14 * 14)


class ElboParts(NamedTuple):
    """Per-image terms of the evidence lower bound, each (B,) in nats: elbo = recon - kl."""

    elbo: Tensor
    recon: Tensor  # 1-sample estimate of E_q[log p(x|z)]
    kl: Tensor  # closed-form KL(q(z|x) || N(0, I))


def _activation(name: str) -> nn.Module:
    if name not in _ACTIVATIONS:
        raise ConfigError(f"Unknown activation {name!r}; use one of: {', '.join(_ACTIVATIONS)}.")
    return _ACTIVATIONS[name]()


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    """Linear layers of ``sizes`` with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        if i:
            layers.append(_activation(activation))
        layers.append(nn.Linear(a, b))
    return nn.Sequential(*layers)


def flatten_images(x: Tensor) -> Tensor:
    """(B, 784) | (B, 28, 28) | (B, 1, 28, 28) -> (B, 784) float."""
    x = x.reshape(len(x), -1)
    if x.shape[1] != N_PIXELS:
        raise ConfigError(f"Expected 28x28 images ({N_PIXELS} pixels each), got {x.shape[1]} values per image.")
    return x.float()


def bernoulli_log_prob(logits: Tensor, x: Tensor) -> Tensor:
    """log p(x | logits) summed over the last axis: (..., D), (..., D) -> (...)."""
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)


def standard_normal(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """N(0, I) noise of ``shape`` on ``like``'s device/dtype, drawn from ``generator`` wherever it lives."""
    gen_device = generator.device if generator is not None else like.device
    eps = torch.randn(shape, generator=generator, device=gen_device, dtype=like.dtype)
    return eps.to(like.device)


class Encoder(nn.Module):
    """Images (B, 784 | 28x28) -> features (B, out_dim). ``arch`` "mlp" or "conv"."""

    def __init__(self, arch: str, out_dim: int, hidden: tuple[int, ...], activation: str):
        super().__init__()
        if arch == "mlp":
            self.net = _mlp([N_PIXELS, *hidden, out_dim], activation)
        else:
            self.net = nn.Sequential(
                nn.Unflatten(1, (1, *IMAGE_SHAPE)),
                nn.Conv2d(1, 32, 4, stride=2, padding=1),  # 32 x 14 x 14
                _activation(activation),
                nn.Conv2d(32, 64, 4, stride=2, padding=1),  # 64 x 7 x 7
                _activation(activation),
                nn.Flatten(),
                nn.Linear(64 * 49, hidden[-1]),
                _activation(activation),
                nn.Linear(hidden[-1], out_dim),
            )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(flatten_images(x))


class Decoder(nn.Module):
    """Latent codes (B, L) -> Bernoulli logits (B, 784). Mirror image of :class:`Encoder`."""

    def __init__(self, arch: str, latent_dim: int, hidden: tuple[int, ...], activation: str):
        super().__init__()
        if arch == "mlp":
            self.net = _mlp([latent_dim, *reversed(hidden), N_PIXELS], activation)
        else:
            self.net = nn.Sequential(
                nn.Linear(latent_dim, hidden[-1]),
                _activation(activation),
                nn.Linear(hidden[-1], 64 * 49),
                _activation(activation),
                nn.Unflatten(1, (64, 7, 7)),
                nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),  # 32 x 14 x 14
                _activation(activation),
                nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1),  # 1 x 28 x 28
                nn.Flatten(),
            )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class LatentImageModel(nn.Module):
    """Shared part of the VAE and the autoencoder: settings, decoder and decoding helpers."""

    kind = "latent"
    code_factor = 1  # encoder outputs per latent dimension: 2 for (mu, logvar), 1 for a point code

    def __init__(self, latent_dim: int = 2, arch: str = "mlp", hidden: tuple[int, ...] | list[int] = (512, 256),
                 activation: str = "elu"):
        super().__init__()
        if int(latent_dim) < 1:
            raise ConfigError(f"latent_dim must be at least 1, got {latent_dim}.")
        if arch not in ARCHS:
            raise ConfigError(f"Unknown architecture {arch!r}; use 'mlp' or 'conv'.")
        hidden = tuple(int(h) for h in hidden)
        if not hidden or min(hidden) < 1:
            raise ConfigError(f"hidden must be a non-empty list of positive layer widths, got {list(hidden)}.")
        _activation(activation)
        self.latent_dim, self.arch, self.hidden, self.activation = int(latent_dim), arch, hidden, activation
        self.decoder = Decoder(arch, self.latent_dim, hidden, activation)
        self.encoder = Encoder(arch, self.code_factor * self.latent_dim, hidden, activation)

    def hparams(self) -> dict:
        """Constructor keyword arguments (JSON-able), stored in checkpoints."""
        return {"latent_dim": self.latent_dim, "arch": self.arch, "hidden": list(self.hidden), "activation": self.activation}

    def decode_logits(self, z: Tensor) -> Tensor:
        """Bernoulli logits of p(x|z): (B, L) -> (B, 784)."""
        return self.decoder(z)

    def decode(self, z: Tensor) -> Tensor:
        """Pixel probabilities (the decoder's mean image): (B, L) -> (B, 28, 28) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z)).reshape(len(z), *IMAGE_SHAPE)


class VAE(LatentImageModel):
    """Gaussian encoder q(z|x) = N(mu, diag exp(logvar)), prior N(0, I), Bernoulli decoder.

    ``settings``: the :class:`LatentImageModel` ones (latent_dim, arch, hidden, activation).
    """

    kind = "vae"
    code_factor = 2

    def __init__(self, beta: float = 1.0, **settings):
        super().__init__(**settings)
        if not float(beta) > 0:
            raise ConfigError(f"beta must be positive, got {beta}.")
        self.beta = float(beta)

    def hparams(self) -> dict:
        return {**super().hparams(), "beta": self.beta}

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """q(z|x) parameters: images (B, 784 | 28x28) -> (mu (B, L), logvar (B, L))."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def reparameterize(self, mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """z = mu + exp(logvar / 2) * eps, eps ~ N(0, I): (B, L), (B, L) -> (B, L)."""
        return mu + torch.exp(0.5 * logvar) * standard_normal(tuple(mu.shape), mu, generator)

    @staticmethod
    def kl(mu: Tensor, logvar: Tensor) -> Tensor:
        """Closed-form KL(N(mu, exp(logvar)) || N(0, I)) per row: (B, L) -> (B,)."""
        return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)

    def elbo(self, x: Tensor, generator: torch.Generator | None = None) -> ElboParts:
        """Per-image ELBO with a 1-sample reparameterized reconstruction term; x binary (B, 784 | 28x28)."""
        x = flatten_images(x)
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator)
        recon = bernoulli_log_prob(self.decode_logits(z), x)
        kl = self.kl(mu, logvar)
        return ElboParts(recon - kl, recon, kl)

    def loss(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """Training loss -mean(recon - beta * KL) (scalar) and batch-mean metrics elbo, recon, kl."""
        parts = self.elbo(x, generator)
        loss = -(parts.recon - self.beta * parts.kl).mean()
        return loss, {"elbo": parts.elbo.mean().detach(), "recon": parts.recon.mean().detach(), "kl": parts.kl.mean().detach()}

    @torch.no_grad()
    def iwae_log_likelihood(
        self, x: Tensor, k: int, batch_size: int = 20000, generator: torch.Generator | None = None, prior=None
    ) -> Tensor:
        """Importance-weighted estimate log (1/k) sum_i p(x, z_i) / q(z_i|x), z_i ~ q(z|x) (Burda et al. 2016).

        x binary (B, 784 | 28x28) -> (B,) nats; ``prior`` p(z) as in :meth:`prior_bounds` (None: N(0, I)).
        k = 1 is an unbiased 1-sample ELBO; it grows towards log p(x) on average as k grows.
        """
        return self.prior_bounds(x, k, [prior], batch_size, generator)[1][0]

    @torch.no_grad()
    def prior_bounds(
        self, x: Tensor, k: int, priors: list, batch_size: int = 20000, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """ELBO and importance-weighted log p(x) under each prior p(z) in ``priors``, from the same k draws z ~ q(z|x).

        x binary (B, 784 | 28x28); a prior is None (N(0, I)) or any object with ``log_prob(z (N, L)) -> (N,)``
        nats. Returns (elbo (P, B), log_px (P, B)) for the P priors: the ELBO is the mean over the k draws of
        log w = log p(x|z) + log p(z) - log q(z|x), log p(x) the log-mean-exp (Burda et al. 2016). The decodes
        are shared by all priors; samples are drawn in chunks so at most ``batch_size`` decoder rows
        (B * chunk <= batch_size, chunk >= 1) are alive at a time.
        """
        if int(k) < 1:
            raise ConfigError(f"The number of importance samples k must be at least 1, got {k}.")
        x = flatten_images(x)
        mu, logvar = self.encode(x)
        std = torch.exp(0.5 * logvar)
        chunk = max(1, int(batch_size) // len(x))
        sums, lses = [], []
        for start in range(0, int(k), chunk):
            n = min(chunk, int(k) - start)
            eps = standard_normal((n, *mu.shape), mu, generator)  # (n, B, L)
            z = mu + std * eps
            logits = self.decode_logits(z.reshape(-1, self.latent_dim)).reshape(n, len(x), N_PIXELS)
            log_q = -0.5 * (eps.pow(2) + logvar + LOG_2PI).sum(-1)  # (n, B)
            log_w = (bernoulli_log_prob(logits, x) - log_q)[None] + torch.stack([_log_prior(p, z) for p in priors])
            sums.append(log_w.sum(1))
            lses.append(torch.logsumexp(log_w, dim=1))  # log_w (P, n, B) -> (P, B)
        elbo = torch.stack(sums).sum(0) / int(k)
        return elbo, torch.logsumexp(torch.stack(lses), dim=0) - math.log(int(k))


def _log_prior(prior, z: Tensor) -> Tensor:
    """log p(z) of latent draws z (n, B, L) -> (n, B): N(0, I) when ``prior`` is None, else ``prior.log_prob``."""
    if prior is None:
        return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
    return prior.log_prob(z.reshape(-1, z.shape[-1])).reshape(z.shape[:-1]).to(z.dtype)


class Autoencoder(LatentImageModel):
    """Deterministic encoder z = f(x) and the VAE's decoder, trained on reconstruction (BCE) only."""

    kind = "autoencoder"

    def encode(self, x: Tensor) -> tuple[Tensor, None]:
        """Images (B, 784 | 28x28) -> (z (B, L), None); None where a VAE has its log-variance."""
        return self.encoder(x), None

    def reconstruction_log_prob(self, x: Tensor) -> Tensor:
        """log p(x | z = f(x)) under the Bernoulli decoder: (B, 784 | 28x28) -> (B,) nats."""
        x = flatten_images(x)
        return bernoulli_log_prob(self.decode_logits(self.encoder(x)), x)

    def loss(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """Mean binary cross-entropy per image (scalar) and the metric recon = -loss (nats)."""
        recon = self.reconstruction_log_prob(x)
        return -recon.mean(), {"recon": recon.mean().detach()}
