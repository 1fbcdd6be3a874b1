"""Latent-explorer computations: paths, grids, densities, reports, loading."""

import numpy as np
import pytest
import torch

from engine.sampling import latent as lm
from engine.checkpoints import save_checkpoint
from engine.errors import CheckpointError, ConfigError, DataError
from engine.models.ppca import PPCA
from engine.models.vae import VAE, Autoencoder


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return VAE(latent_dim=2, hidden=(32,)).eval()


def test_linear_and_spherical_paths_hit_endpoints():
    for mode in ("linear", "spherical"):
        path = lm.interpolate((1.0, 0.0), (0.0, 2.0), 5, mode)
        assert path.shape == (5, 2)
        np.testing.assert_allclose(path[0], (1, 0), atol=1e-6)
        np.testing.assert_allclose(path[-1], (0, 2), atol=1e-6)
    slerp = lm.interpolate((1.0, 0.0), (0.0, 2.0), 5, "spherical")
    np.testing.assert_allclose(np.linalg.norm(slerp, axis=1), np.linspace(1, 2, 5), rtol=1e-5)
    mid = lm.interpolate((1.0, 0.0), (-1.0, 0.0001), 3, "linear")[1]
    assert np.linalg.norm(mid) < 0.01, "linear paths cut through the middle"
    with pytest.raises(ConfigError):
        lm.interpolate((0, 0), (1, 1), 1)
    with pytest.raises(ConfigError):
        lm.interpolate((0, 0), (1, 1), 4, "cubic")


def test_grid_points_run_top_left_to_bottom_right():
    pts = lm.grid_points((0, 4), (0, 2), 2)
    np.testing.assert_allclose(pts, [[1, 1.5], [3, 1.5], [1, 0.5], [3, 0.5]])
    with pytest.raises(ConfigError):
        lm.grid_points((0, 1), (0, 1), 1)


def test_decode_grid_places_each_decode_in_its_cell(vae):
    mosaic = lm.decode_grid(vae, (-2, 2), (-1, 1), 3)
    assert mosaic.shape == (84, 84) and mosaic.dtype == np.float32
    top_right = lm.decode_point(vae, tuple(lm.grid_points((-2, 2), (-1, 1), 3)[2]))
    np.testing.assert_allclose(mosaic[:28, 56:], top_right, atol=1e-6)


def test_decode_path_strip(vae):
    strip = lm.decode_path(vae, lm.interpolate((0, 0), (1, 1), 4))
    assert strip.shape == (28, 112)
    np.testing.assert_allclose(strip[:, :28], lm.decode_point(vae, (0, 0)), atol=1e-6)


def test_data_density_peaks_where_the_codes_are():
    codes = np.random.default_rng(0).normal(1.0, 0.1, (500, 2))
    d = lm.data_density(codes, (-2, 2), (-2, 2), 40)
    assert d.max() == pytest.approx(1.0)
    i, j = np.unravel_index(np.argmax(d), d.shape)
    assert abs(-2 + 4 * (i + 0.5) / 40 - 1.0) < 0.3 and abs(-2 + 4 * (j + 0.5) / 40 - 1.0) < 0.3
    assert d[0, 0] == pytest.approx(0.0, abs=1e-6)


def test_prior_density_is_the_standard_normal():
    p = lm.prior_density((-1, 1), (-1, 1), 3)
    assert p[1, 1] == pytest.approx(1 / (2 * np.pi))


def test_inspect_vae_reports_a_bound_below_the_likelihood(vae):
    img = (np.random.default_rng(1).random((28, 28)) > 0.7).astype(np.float32)
    r = lm.inspect_digit(vae, img, k=200)
    assert r.elbo == pytest.approx(r.recon_ll - r.kl, abs=1e-3)
    assert r.log_px >= r.elbo - 0.5
    assert r.recon.shape == (28, 28) and r.var.shape == (2,)
    with pytest.raises(DataError):
        lm.inspect_digit(vae, np.zeros((10, 10)))


def test_inspect_autoencoder_and_ppca():
    torch.manual_seed(0)
    img = np.random.default_rng(2).random((28, 28)).astype(np.float32)
    ae = lm.inspect_digit(Autoencoder(hidden=(16,)).eval(), img, k=10)
    assert ae.elbo is None and ae.log_px is None and ae.recon_ll is not None
    ppca = PPCA().fit(torch.rand(200, 784))
    rp = lm.inspect_digit(ppca, img, k=10)
    assert rp.log_px is not None and "not comparable" in rp.note


def test_sample_prior_is_seeded(vae):
    z1, x1 = lm.sample_prior(vae, 5, seed=3)
    z2, x2 = lm.sample_prior(vae, 5, seed=3)
    assert z1.shape == (5, 2) and x1.shape == (5, 28, 28)
    np.testing.assert_array_equal(z1, z2)
    with pytest.raises(ConfigError):
        lm.sample_prior(vae, 0)


def test_open_latent_model_uses_shipped_codes_without_data(vae, tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", vae.state_dict(), {"kind": "vae", "hparams": vae.hparams()})
    codes = tmp_path / "codes.npz"
    np.savez(codes, m_mu=np.ones((7, 2), np.float16), m_logvar=np.zeros((7, 2), np.float16),
             labels=np.arange(7, dtype=np.uint8))
    loaded = lm.open_latent_model(path, "m", codes, data_root=None)
    assert loaded.codes.shape == (7, 2) and list(loaded.labels) == list(range(7)) and loaded.images is None
    bare = lm.open_latent_model(path, "other", codes, data_root=tmp_path)
    assert bare.codes is None and "no MNIST" in bare.note


def test_open_latent_model_refuses_wrong_latent_size(tmp_path):
    big = VAE(latent_dim=32, hidden=(16,))
    path = save_checkpoint(tmp_path / "big.safetensors", big.state_dict(), {"kind": "vae", "hparams": big.hparams()})
    with pytest.raises(CheckpointError, match="32-d latent"):
        lm.open_latent_model(path, "big")
