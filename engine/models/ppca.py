"""Probabilistic PCA (Tipping & Bishop 1999), fitted in closed form.

Model: z ~ N(0, I_L), x | z ~ N(W z + mu, sigma2 I_D), so the marginal is
x ~ N(mu, C) with C = W W^T + sigma2 I_D. With M = W^T W + sigma2 I_L
(L x L), the posterior is z | x ~ N(M^-1 W^T (x - mu), sigma2 M^-1), and

    C^-1     = (I_D - W M^-1 W^T) / sigma2          (Woodbury)
    log |C|  = (D - L) log sigma2 + log |M|          (determinant lemma)

so nothing D x D is ever inverted per sample. This is a continuous density
on pixel intensities, so its log-likelihoods are NOT comparable with the
Bernoulli models' nats on binarized images. Computations run in float64; the
buffers are stored as float32.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from engine.errors import ConfigError
from engine.models.vae import IMAGE_SHAPE, N_PIXELS, standard_normal

LOG_2PI = math.log(2 * math.pi)


def cost(hp: dict) -> tuple[int, int]:
    """(weights, bytes per example) of a PPCA with settings ``hp``: its buffers, and float64 work per image."""
    d, latent = int(hp.get("data_dim", N_PIXELS)), int(hp.get("latent_dim", 2))
    return d * latent + d + 1, 8 * (d * (latent + 2) + latent * latent)


class PPCA(nn.Module):
    """PPCA with buffers ``mean`` (D,), ``W`` (D, L) and ``sigma2`` () so checkpoints hold it."""

    kind = "ppca"

    def __init__(self, data_dim: int = N_PIXELS, latent_dim: int = 2):
        super().__init__()
        if not 1 <= int(latent_dim) < int(data_dim):
            raise ConfigError(f"PPCA needs 1 <= latent_dim < data_dim, got latent_dim={latent_dim}, data_dim={data_dim}.")
        self.data_dim, self.latent_dim = int(data_dim), int(latent_dim)
        self.register_buffer("mean", torch.zeros(self.data_dim))
        self.register_buffer("W", torch.zeros(self.data_dim, self.latent_dim))
        self.register_buffer("sigma2", torch.ones(()))

    def hparams(self) -> dict:
        return {"data_dim": self.data_dim, "latent_dim": self.latent_dim}

    @property
    def image_shape(self) -> tuple[int, ...]:
        return IMAGE_SHAPE if self.data_dim == N_PIXELS else (self.data_dim,)

    @torch.no_grad()
    def fit(self, x: Tensor) -> PPCA:
        """Maximum-likelihood fit to data x (N, D): eigen-decomposition of the sample covariance.

        sigma2 = mean of the D - L discarded eigenvalues, W = U_L (Lambda_L - sigma2 I)^(1/2).
        Returns self.
        """
        x = self._flat(x)
        if len(x) < 2:
            raise ConfigError("PPCA needs at least two examples to fit.")
        mean = x.mean(0)
        centred = x - mean
        cov = centred.T @ centred / len(x)
        eigvals, eigvecs = torch.linalg.eigh(cov)  # ascending
        eigvals, eigvecs = eigvals.flip(0), eigvecs.flip(1)
        sigma2 = eigvals[self.latent_dim :].clamp_min(0).mean().clamp_min(1e-12)
        scale = (eigvals[: self.latent_dim] - sigma2).clamp_min(0).sqrt()
        self.mean.copy_(mean)
        self.W.copy_(eigvecs[:, : self.latent_dim] * scale)
        self.sigma2.copy_(sigma2)
        return self

    def _flat(self, x: Tensor) -> Tensor:
        """(B, D | image) -> (B, D) float64."""
        x = x.reshape(len(x), -1).double()
        if x.shape[1] != self.data_dim:
            raise ConfigError(f"This PPCA models {self.data_dim} values per example, got {x.shape[1]}.")
        return x

    def _params(self) -> tuple[Tensor, Tensor, Tensor]:
        """(mean (D,), W (D, L), sigma2 ()) in float64."""
        return self.mean.double(), self.W.double(), self.sigma2.double()

    def _m_matrix(self) -> Tensor:
        """M = W^T W + sigma2 I: (L, L) float64."""
        _, w, s2 = self._params()
        return w.T @ w + s2 * torch.eye(self.latent_dim, dtype=w.dtype, device=w.device)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact marginal log N(x; mu, W W^T + sigma2 I): (B, D | image) -> (B,) float64 nats."""
        mean, w, s2 = self._params()
        e = self._flat(x) - mean  # (B, D)
        m_chol = torch.linalg.cholesky(self._m_matrix())
        proj = torch.cholesky_solve((e @ w).T, m_chol).T  # M^-1 W^T e: (B, L)
        quad = (e.pow(2).sum(-1) - (e @ w * proj).sum(-1)) / s2
        logdet = (self.data_dim - self.latent_dim) * torch.log(s2) + 2 * torch.log(torch.diagonal(m_chol)).sum()
        return -0.5 * (self.data_dim * LOG_2PI + logdet + quad)

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """q(z|x) = p(z|x): (B, D | image) -> (mean (B, L), covariance (L, L)) float64."""
        mean, w, s2 = self._params()
        m_inv = torch.linalg.inv(self._m_matrix())
        return (self._flat(x) - mean) @ w @ m_inv, s2 * m_inv  # M is symmetric: (M^-1 W^T e)^T = e^T W M^-1

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior mean and log of its marginal variances, as float32 (B, L), (B, L) like the VAE."""
        mu, cov = self.posterior(x)
        return mu.float(), torch.log(torch.diagonal(cov)).float().expand_as(mu).clone()

    def decode(self, z: Tensor, clip: bool = False) -> Tensor:
        """Mean image W z + mu: (B, L) -> (B, 28, 28) (or (B, D)); ``clip`` to [0, 1] for display only."""
        mean, w, _ = self._params()
        x = (z.double() @ w.T + mean).float()
        return (x.clamp(0, 1) if clip else x).reshape(len(z), *self.image_shape)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws from the marginal: (n, D) float32 (not clipped)."""
        mean, w, s2 = self._params()
        z = standard_normal((n, self.latent_dim), mean, generator)
        noise = standard_normal((n, self.data_dim), mean, generator)
        return (z @ w.T + mean + s2.sqrt() * noise).float()

    @torch.no_grad()
    def importance_log_likelihood(
        self,
        x: Tensor,
        k: int,
        generator: torch.Generator | None = None,
        proposal_scale: float = 1.0,
        batch_size: int = 20000,
    ) -> Tensor:
        """log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q = N(post. mean, scale^2 * post. cov): (B,) float64.

        With ``proposal_scale=1`` q is the exact posterior and every weight
        equals p(x), so the estimate is exact for every k; a wider proposal
        converges to :meth:`log_prob` as k grows. Samples are drawn in chunks
        of at most ``batch_size`` (B * chunk) rows.
        """
        if int(k) < 1 or not proposal_scale > 0:
            raise ConfigError(f"Need k >= 1 and a positive proposal_scale, got k={k}, proposal_scale={proposal_scale}.")
        x = self._flat(x)
        post_mean, post_cov = self.posterior(x)
        q = torch.distributions.MultivariateNormal(post_mean, covariance_matrix=proposal_scale**2 * post_cov)
        chol = torch.linalg.cholesky(post_cov)
        chunk, parts = max(1, int(batch_size) // len(x)), []
        for start in range(0, int(k), chunk):
            eps = standard_normal((min(chunk, int(k) - start), len(x), self.latent_dim), post_mean, generator)
            z = post_mean + proposal_scale * eps @ chol.T  # (n, B, L)
            parts.append(torch.logsumexp(self._log_joint(x, z) - q.log_prob(z), dim=0))
        return torch.logsumexp(torch.stack(parts), dim=0) - math.log(int(k))

    def _log_joint(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x|z) + log p(z): x (B, D), z (n, B, L) float64 -> (n, B)."""
        mean, w, s2 = self._params()
        resid = x - (z @ w.T + mean)  # (n, B, D)
        log_px_z = -0.5 * (resid.pow(2).sum(-1) / s2 + self.data_dim * (LOG_2PI + torch.log(s2)))
        return log_px_z - 0.5 * (z.pow(2).sum(-1) + self.latent_dim * LOG_2PI)
