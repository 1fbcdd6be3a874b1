"""VAE and autoencoder: shapes, closed-form KL, IWAE bounds, checkpoints through the registry."""

from __future__ import annotations

import pytest
import torch

from engine.checkpoints import save_checkpoint
from engine.errors import CheckpointError, ConfigError
from engine.catalog import build_model, load_model
from engine.models.vae import VAE, Autoencoder, Decoder
from engine.training.step import checkpoint_config


def tiny_vae(seed: int = 0, **kw) -> VAE:
    torch.manual_seed(seed)
    return VAE(latent_dim=2, hidden=[16], **kw)


def binary_images(n: int, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.full((n, 784), 0.2), generator=gen)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_shapes(arch):
    model = VAE(latent_dim=3, arch=arch, hidden=[32])
    x = binary_images(5).reshape(5, 1, 28, 28)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, 3)
    assert model.decode_logits(mu).shape == (5, 784)
    probs = model.decode(mu)
    assert probs.shape == (5, 28, 28) and probs.min() >= 0 and probs.max() <= 1
    parts = model.elbo(x)
    assert parts.elbo.shape == parts.recon.shape == parts.kl.shape == (5,)
    assert torch.allclose(parts.elbo, parts.recon - parts.kl)
    assert (parts.kl >= 0).all() and (parts.recon <= 0).all()


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError):
        VAE(arch="transformer")
    with pytest.raises(ConfigError):
        VAE(beta=0)
    with pytest.raises(ConfigError):
        tiny_vae().encode(torch.zeros(2, 100))


def test_closed_form_kl_matches_monte_carlo():
    gen = torch.Generator().manual_seed(0)
    mu = torch.tensor([[0.5, -1.0], [2.0, 0.3]])
    logvar = torch.tensor([[-1.0, 0.4], [0.0, -2.0]])
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
    z = mu + torch.exp(0.5 * logvar) * torch.randn(200_000, 2, 2, generator=gen)
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)
    assert torch.allclose(VAE.kl(mu, logvar), mc, atol=0.02)


def test_same_generator_same_elbo():
    model, x = tiny_vae(), binary_images(4)
    a = model.elbo(x, generator=torch.Generator().manual_seed(3)).elbo
    b = model.elbo(x, generator=torch.Generator().manual_seed(3)).elbo
    assert torch.equal(a, b)


def test_loss_weighs_kl_by_beta():
    model, x = tiny_vae(beta=4.0), binary_images(8)
    loss, metrics = model.loss(x, generator=torch.Generator().manual_seed(0))
    assert loss.item() == pytest.approx(-(metrics["recon"] - 4.0 * metrics["kl"]).item(), rel=1e-5)


def test_iwae_bounds_the_elbo_and_grows_with_k():
    model, x = tiny_vae(), binary_images(32).repeat(16, 1)  # 512 rows: averages over many draws
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        elbo = torch.stack([model.elbo(x, generator=gen).elbo for _ in range(4)]).mean()
    est = {k: model.iwae_log_likelihood(x, k, batch_size=512 * 7, generator=gen).mean() for k in (1, 10, 100)}
    assert est[1] == pytest.approx(elbo.item(), abs=1.0)  # k = 1 is an unbiased ELBO estimate (std ~0.2 here)
    assert elbo + 2 < est[10] < est[100]


def test_iwae_rejects_k_zero():
    with pytest.raises(ConfigError):
        tiny_vae().iwae_log_likelihood(binary_images(2), 0)


def test_autoencoder_shares_the_decoder_and_is_deterministic():
    torch.manual_seed(0)
    ae, x = Autoencoder(latent_dim=2, hidden=[16]), binary_images(6)
    assert isinstance(ae.decoder, Decoder) and isinstance(tiny_vae().decoder, Decoder)
    z, nothing = ae.encode(x)
    assert z.shape == (6, 2) and nothing is None
    assert torch.equal(ae.encode(x)[0], z)
    loss, metrics = ae.loss(x)
    assert loss.item() == pytest.approx(-metrics["recon"].item())
    assert ae.decode(z).shape == (6, 28, 28)


@pytest.mark.parametrize("make", [lambda: tiny_vae(beta=2.0), lambda: Autoencoder(latent_dim=2, hidden=[16], arch="conv")])
def test_checkpoint_round_trip_through_registry(tmp_path, make):
    model, x = make().eval(), binary_images(3)
    path = save_checkpoint(tmp_path / "m.safetensors", model.state_dict(), checkpoint_config(model, {}, {}, {}))
    loaded = load_model(path, expected_kind=model.kind)
    assert type(loaded) is type(model) and loaded.hparams() == model.hparams()
    assert torch.equal(loaded.decode(model.encode(x)[0]), model.decode(model.encode(x)[0]))
    assert loaded.checkpoint_config["kind"] == model.kind


def test_registry_errors(tmp_path):
    model = tiny_vae()
    path = save_checkpoint(tmp_path / "m.safetensors", model.state_dict(), checkpoint_config(model, {}, {}, {}))
    with pytest.raises(CheckpointError, match="'vae' checkpoint"):
        load_model(path, expected_kind="ppca")
    bad = {"kind": "vae", "hparams": {**model.hparams(), "latent_dim": 5}}
    save_checkpoint(tmp_path / "bad.safetensors", model.state_dict(), bad)
    with pytest.raises(CheckpointError, match="shape"):
        load_model(tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointError, match="Unknown model kind"):
        build_model("wavenet9000", {})
    with pytest.raises(CheckpointError, match="do not fit"):
        build_model("vae", {"latent": 2})
    with pytest.raises(CheckpointError, match="invalid"):
        build_model("vae", {"arch": "rnn"})
