"""Learned latent priors: densities that integrate to 1, the ELBO / IWAE under a prior against a brute-force
computation, contour levels, the tie to a latent space, the flow fitted through the training loop, the table."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import DataError
from engine.events import Done
from engine.evaluation.latent_prior import PriorTable, aggregate_kl, prior_table
from engine.models.flows import MAF
from engine.models.gmm import GaussianMixture
from engine.models.latent_prior import (SIGMA_MASSES, MixturePrior, StandardNormal, TiedPrior, density_raster,
                                        mass_levels)
from engine.models.vae import VAE
from engine.training.latent_prior import fit_flow_prior, fit_mixture_prior


def blobs(n: int = 600, seed: int = 0) -> np.ndarray:
    """(n, 2) float32: two elongated clusters, like a VAE's codes of two digit classes."""
    rng = np.random.default_rng(seed)
    a = rng.normal((-1.5, 0.5), (0.3, 0.8), size=(n // 2, 2))
    b = rng.normal((1.2, -0.4), (0.6, 0.25), size=(n - n // 2, 2))
    return np.concatenate([a, b]).astype(np.float32)


def fitted_gmm() -> GaussianMixture:
    return GaussianMixture(2, covariance_type="full", seed=0).fit(blobs())


def drain(events):
    for event in events:
        if isinstance(event, Done):
            return event.result
    raise AssertionError("no Done event")


def _integral(prior, half: float = 9.0, size: int = 400) -> float:
    density = density_raster(prior, (-half, half), (-half, half), size)
    return float(density.sum() * (2 * half / size) ** 2)


@pytest.mark.parametrize("make", [lambda: StandardNormal(2), lambda: MixturePrior(fitted_gmm()),
                                  lambda: MAF(dim=2, layers=3, hidden=[16, 16], seed=3).eval()])
def test_prior_density_integrates_to_one(make):
    assert abs(_integral(make()) - 1.0) < 1e-3


def test_fitted_flow_prior_integrates_to_one_and_fits_the_codes():
    codes = blobs(800)
    flow = drain(fit_flow_prior(codes, epochs=8, batch_size=100, seed=0))
    assert abs(_integral(flow) - 1.0) < 1e-3
    ll = float(flow.log_prob(torch.from_numpy(codes)).mean().detach())
    assert ll > float(StandardNormal().log_prob(torch.from_numpy(codes)).mean()) + 0.3
    again = drain(fit_flow_prior(codes, epochs=8, batch_size=100, seed=0))
    assert float(again.log_prob(torch.from_numpy(codes)).mean().detach()) == ll  # same seed, same flow


def test_mixture_prior_picks_k_by_bic():
    prior = drain(fit_mixture_prior(blobs(), k_max=4))
    assert prior.gmm.n_components == 2 and prior.label == "GMM, K = 2"
    z = prior.sample(5, torch.Generator().manual_seed(0))
    assert z.shape == (5, 2) and torch.equal(z, prior.sample(5, torch.Generator().manual_seed(0)))


def test_priors_refuse_too_few_codes():
    with pytest.raises(DataError):
        drain(fit_flow_prior(np.zeros((3, 2), np.float32)))
    with pytest.raises(DataError):
        drain(fit_mixture_prior(np.full((50, 2), np.nan, np.float32)))


def test_mass_levels_of_the_standard_normal_are_its_sigma_circles():
    half, size = 6.0, 600
    density = density_raster(StandardNormal(), (-half, half), (-half, half), size)
    levels = mass_levels(density, (2 * half / size) ** 2)
    expected = [math.exp(-r * r / 2) / (2 * math.pi) for r in (1, 2, 3)]
    assert np.allclose(levels, expected, rtol=0.02)
    assert SIGMA_MASSES[0] == pytest.approx(0.3935, abs=1e-4)


def test_a_tied_prior_belongs_to_its_checkpoint_and_dimension(tmp_path):
    tied = TiedPrior(StandardNormal(), tmp_path / "a.safetensors", 2, "model a", "MAF")
    assert tied.applies_to(tmp_path / "." / "a.safetensors", 2)
    assert not tied.applies_to(tmp_path / "b.safetensors", 2)
    assert not tied.applies_to(tmp_path / "a.safetensors", 3)
    assert not tied.applies_to(None, 2)


def _brute_force(model: VAE, x: torch.Tensor, k: int, log_prior, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ELBO and IWAE of each image from the same k draws, one draw at a time, with torch.distributions."""
    gen = torch.Generator().manual_seed(seed)
    mu, logvar = model.encode(x)
    eps = torch.randn((k, *mu.shape), generator=gen)
    elbo, iwae = [], []
    for b in range(len(x)):
        q = torch.distributions.Normal(mu[b], torch.exp(0.5 * logvar[b]))
        log_w = []
        for i in range(k):
            z = mu[b] + torch.exp(0.5 * logvar[b]) * eps[i, b]
            p = torch.sigmoid(model.decode_logits(z[None])[0]).double()
            log_px_z = (x[b] * torch.log(p) + (1 - x[b]) * torch.log1p(-p)).sum()
            log_w.append(log_px_z + log_prior(z) - q.log_prob(z).sum())
        log_w = torch.stack(log_w).double()
        elbo.append(log_w.mean())
        iwae.append(torch.logsumexp(log_w, 0) - math.log(k))
    return torch.stack(elbo), torch.stack(iwae)


@torch.no_grad()
def test_elbo_and_iwae_under_a_prior_equal_a_brute_force_computation():
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=[16]).eval()
    x = torch.bernoulli(torch.full((3, 784), 0.3), generator=torch.Generator().manual_seed(1))
    gmm = fitted_gmm()
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.as_tensor(gmm.weights_)),
        torch.distributions.MultivariateNormal(torch.as_tensor(gmm.means_), torch.as_tensor(gmm.covariances_)))
    normal = torch.distributions.MultivariateNormal(torch.zeros(2), torch.eye(2))
    elbo, iwae = model.prior_bounds(x, 7, [None, MixturePrior(gmm)], generator=torch.Generator().manual_seed(5))
    for row, dist in enumerate([normal, mixture]):
        want_elbo, want_iwae = _brute_force(model, x, 7, lambda z: dist.log_prob(z.double()), seed=5)
        assert torch.allclose(elbo[row].double(), want_elbo, atol=2e-3)
        assert torch.allclose(iwae[row].double(), want_iwae, atol=2e-3)
    assert not torch.allclose(elbo[0], elbo[1])  # the prior matters
    one = model.iwae_log_likelihood(x, 7, generator=torch.Generator().manual_seed(5), prior=MixturePrior(gmm))
    assert torch.allclose(one, iwae[1])


def test_prior_table_is_seeded_and_names_its_figures():
    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=[16]).eval()
    x = torch.bernoulli(torch.full((30, 784), 0.3), generator=torch.Generator().manual_seed(1))
    priors = {"N(0, I)": StandardNormal(), "GMM, K = 2": MixturePrior(fitted_gmm())}
    table = drain(prior_table(model, x, priors, k=20, batch=8, seed=4))
    assert isinstance(table, PriorTable) and table.images == 30 and table.k == 20
    again = drain(prior_table(model, x, priors, k=20, batch=8, seed=4))
    assert (again.elbo, again.log_px) == (table.elbo, table.log_px)
    assert all(g > 0 for g in table.gaps())
    figures = table.figures()
    assert {"elbo_normal", "iwae_normal", "elbo_gmm", "iwae_gmm"} <= set(figures)
    assert "N(0, I)" in table.text() and "GMM, K = 2" in table.text()
    # an untrained encoder's posteriors are all close to N(0, I): that prior has (almost) no gap, the mixture has
    assert abs(table.prior_kl[0]) < 0.05 < table.prior_kl[1]
    assert {"prior_gap_normal", "prior_gap_gmm"} <= set(figures)


def test_aggregate_kl_of_one_gaussian_is_the_closed_form_and_zero_for_the_aggregate_itself():
    mu, logvar = torch.tensor([[0.7, -1.2]]), torch.tensor([[-1.0, 0.5]])
    closed = 0.5 * float((logvar.exp() + mu**2 - 1 - logvar).sum())  # KL(N(mu, s^2) || N(0, I))
    [kl] = aggregate_kl(mu, logvar, [StandardNormal(2)], draws=40000, generator=torch.Generator().manual_seed(0))
    assert kl == pytest.approx(closed, abs=0.02)

    mus = torch.tensor([[-1.0, 0.0], [1.5, 0.5], [0.0, 2.0]])
    logvars = torch.tensor([[-2.0, -1.0], [-1.0, -2.0], [0.0, -1.5]])
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(3)),
        torch.distributions.Independent(torch.distributions.Normal(mus, (0.5 * logvars).exp()), 1))
    itself = type("Aggregate", (), {"log_prob": staticmethod(mixture.log_prob)})()
    kls = aggregate_kl(mus, logvars, [itself, StandardNormal(2)], draws=2000,
                       generator=torch.Generator().manual_seed(1))
    assert abs(kls[0]) < 1e-4 < kls[1]  # the aggregate posterior is the prior with no gap


def test_cli_prints_the_prior_table_and_refuses_a_model_without_prior(tmp_path, capsys):
    from engine.cards.bundled import find_bundled
    from engine.cli.main import main

    folder = tmp_path / "binarized_mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 200), ("test", 12)):
        rows = (rng.random((n, 784)) < 0.15).astype(int)
        (folder / f"binarized_mnist_{split}.amat").write_text("\n".join(" ".join(map(str, r)) for r in rows))
    vae = str(find_bundled("vae").path)
    args = ["--data", str(tmp_path), "eval", "vae", "--checkpoint", vae, "--priors", "--k", "4", "--flow-epochs", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "scored on 12 digits (evenly spaced)" in out and "k = 4" in out
    assert [line.split()[0] for line in out.splitlines()[-3:]] == ["N(0,", "GMM,", "MAF"]
    autoencoder = str(find_bundled("autoencoder").path)
    assert main(["--data", str(tmp_path), "eval", "autoencoder", "--checkpoint", autoencoder, "--priors"]) == 2
    assert "no prior" in capsys.readouterr().err


def test_latent_samples_come_from_the_chosen_prior_object():
    from engine.sampling.latent import sample_prior

    torch.manual_seed(0)
    model = VAE(latent_dim=2, hidden=[16]).eval()
    flow = MAF(dim=2, layers=2, hidden=[8], seed=1).eval()
    z, images = sample_prior(model, 6, seed=9, prior=flow)
    assert np.allclose(z, flow.sample(6, torch.Generator().manual_seed(9)).numpy())
    assert images.shape == (6, 28, 28)
    mixture = MixturePrior(fitted_gmm())
    z_gmm, _ = sample_prior(model, 6, seed=9, prior=mixture)
    assert np.allclose(z_gmm, mixture.gmm.sample(6, seed=9)[0])  # the GMM fitter's own draws for that seed
