"""Probabilistic PCA: closed-form fit, exact marginal, posterior, importance sampling, checkpoints."""

from __future__ import annotations

import pytest
import torch

from engine.checkpoints import save_checkpoint
from engine.errors import ConfigError
from engine.models.ppca import PPCA
from engine.catalog import load_model
from engine.training.step import checkpoint_config

D, L, SIGMA2 = 6, 2, 0.1


def true_params(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(D, L, generator=gen, dtype=torch.float64), torch.randn(D, generator=gen, dtype=torch.float64)


def sample_data(n: int, seed: int = 0) -> torch.Tensor:
    w, mu = true_params()
    gen = torch.Generator().manual_seed(seed + 1)
    z = torch.randn(n, L, generator=gen, dtype=torch.float64)
    return z @ w.T + mu + SIGMA2**0.5 * torch.randn(n, D, generator=gen, dtype=torch.float64)


@pytest.fixture(scope="module")
def fitted() -> PPCA:
    return PPCA(data_dim=D, latent_dim=L).fit(sample_data(40_000))


def test_fit_recovers_low_rank_covariance(fitted):
    w, mu = true_params()
    cov = fitted.W.double() @ fitted.W.double().T + fitted.sigma2.double() * torch.eye(D)
    true_cov = w @ w.T + SIGMA2 * torch.eye(D)
    assert torch.allclose(cov, true_cov, atol=0.08 * true_cov.abs().max())
    assert float(fitted.sigma2) == pytest.approx(SIGMA2, rel=0.05)
    assert torch.allclose(fitted.mean.double(), mu, atol=0.05)


def test_exact_marginal_matches_brute_force(fitted):
    x = sample_data(50, seed=7)
    cov = fitted.W.double() @ fitted.W.double().T + fitted.sigma2.double() * torch.eye(D)
    brute = torch.distributions.MultivariateNormal(fitted.mean.double(), covariance_matrix=cov).log_prob(x)
    assert torch.allclose(fitted.log_prob(x), brute, atol=1e-9)


def test_posterior_matches_gaussian_conditioning(fitted):
    x = sample_data(4, seed=3)
    w, s2, mu = fitted.W.double(), fitted.sigma2.double(), fitted.mean.double()
    cov_x = w @ w.T + s2 * torch.eye(D)
    mean = (x - mu) @ torch.linalg.solve(cov_x, w)  # E[z|x] = W^T C^-1 (x - mu)
    cov = torch.eye(L, dtype=torch.float64) - w.T @ torch.linalg.solve(cov_x, w)
    post_mean, post_cov = fitted.posterior(x)
    assert torch.allclose(post_mean, mean, atol=1e-9) and torch.allclose(post_cov, cov, atol=1e-9)
    mu_z, logvar_z = fitted.encode(x)
    assert mu_z.shape == logvar_z.shape == (4, L) and mu_z.dtype == torch.float32


@pytest.mark.parametrize("k", [1, 5, 50])
def test_importance_sampling_with_exact_posterior_is_exact(fitted, k):
    x = sample_data(20, seed=5)
    est = fitted.importance_log_likelihood(x, k, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(est, fitted.log_prob(x), atol=1e-8)


def test_importance_sampling_with_wider_proposal_converges(fitted):
    x, gen = sample_data(20, seed=6), torch.Generator().manual_seed(0)
    exact = fitted.log_prob(x)
    err = {
        k: (fitted.importance_log_likelihood(x, k, generator=gen, proposal_scale=3.0, batch_size=20 * 1000) - exact)
        .abs()
        .mean()
        for k in (3, 100, 10_000)
    }
    assert err[10_000] < err[100] < err[3]
    assert err[10_000] < 0.02


def test_decode_sample_and_image_shapes():
    model = PPCA()
    model.mean.uniform_(0, 1)
    model.W.normal_()
    z = torch.zeros(3, 2)
    assert model.decode(z).shape == (3, 28, 28)
    assert torch.allclose(model.decode(z).reshape(3, -1)[0], model.mean, atol=1e-6)
    clipped = model.decode(torch.full((1, 2), 50.0), clip=True)
    assert clipped.min() >= 0 and clipped.max() <= 1
    assert model.sample(4, generator=torch.Generator().manual_seed(0)).shape == (4, 784)


def test_bad_settings():
    with pytest.raises(ConfigError):
        PPCA(data_dim=4, latent_dim=4)
    with pytest.raises(ConfigError):
        PPCA(data_dim=4, latent_dim=2).log_prob(torch.zeros(3, 5))
    with pytest.raises(ConfigError):
        PPCA(data_dim=4, latent_dim=2).importance_log_likelihood(torch.zeros(3, 4), 0)


def test_checkpoint_round_trip(tmp_path, fitted):
    path = save_checkpoint(tmp_path / "p.safetensors", fitted.state_dict(), checkpoint_config(fitted, {}, {}, {}))
    loaded = load_model(path, expected_kind="ppca")
    x = sample_data(5, seed=9)
    assert torch.equal(loaded.log_prob(x), fitted.log_prob(x))
