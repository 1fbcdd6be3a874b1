"""The Density lab's numbers: stage densities, mass contours, the X-ray, the held-out comparison."""

import numpy as np
import pytest
import torch

from engine.data.points2d import holdout_split
from engine.data.tables import make_blobs_mixture
from engine.evaluation.flow_views import mass_levels, snapshot, stage_log_density, view_box, xray
from engine.evaluation.heldout import Standardizer, gmm_heldout
from engine.events import Done
from engine.models.flows import MAF, standard_normal_log_prob


def random_flow(seed=0):
    torch.manual_seed(seed)
    model = MAF(2, 3, [16, 16], seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))  # far from the identity
    return model.eval()


def test_standardizer_round_trip_and_log_det():
    X = np.random.default_rng(0).normal([3, -1], [2, 0.5], (500, 2))
    sc = Standardizer.fit(X)
    np.testing.assert_allclose(sc.inverse(sc.forward(X)), X, atol=1e-12)
    assert sc.log_det == pytest.approx(-np.log(X.std(0)).sum())
    assert Standardizer.fit(np.ones((5, 2))).log_det == 0.0, "a constant column keeps scale 1"


def test_stage_densities_run_from_the_base_to_the_flow():
    model, s = random_flow(), torch.randn(50, 2)
    stages = stage_log_density(model, s)
    assert len(stages) == 4
    torch.testing.assert_close(stages[0], standard_normal_log_prob(s))
    torch.testing.assert_close(stages[-1], model.log_prob(s).detach(), rtol=1e-5, atol=1e-5)


def test_every_stage_integrates_to_one_and_contours_hold_their_mass():
    model = random_flow(1)
    points = model.sample(4000, torch.Generator().manual_seed(0)).double().numpy()
    sc = Standardizer(np.zeros(2), np.ones(2))
    x0, x1, y0, y1 = view_box(points, sc, pad=1.0)
    snap = snapshot(model, sc, (x0, x1, y0, y1), torch.randn(10, 2), (0, 0, 0.0, 0.0))
    cell = (x1 - x0) / (snap.density.shape[2] - 1) * (y1 - y0) / (snap.density.shape[1] - 1)
    np.testing.assert_allclose(snap.density.sum((1, 2)) * cell, 1.0, atol=0.02)
    for density, levels in zip(snap.density, snap.levels):
        inside = [density[density >= level].sum() / density.sum() for level in levels]
        assert np.all(np.diff(levels) < 0) and inside == pytest.approx([0.5, 0.8, 0.95], abs=0.02)
    assert snap.samples.shape == (4, 10, 2) and snap.grid.shape[:2] == (4, 26)
    np.testing.assert_allclose(mass_levels(np.ones((4, 4))), 1.0)


@pytest.mark.parametrize("layer", [None, 0, 1, 2])
def test_xray_is_triangular_per_layer_and_its_logdets_agree(layer):
    model = random_flow(2)
    r = xray(model, Standardizer(np.zeros(2), np.ones(2)), (0.3, -0.7), layer)
    assert r.jacobian.shape == (2, 2) and r.fast_logdet == pytest.approx(r.slogdet, abs=1e-5)
    if layer is not None:
        assert r.jacobian[0, 1] == 0.0 and list(r.order) == model.layer_orders()[layer].tolist()


def test_gmm_heldout_finds_the_blobs_on_the_one_split():
    X, _ = make_blobs_mixture(600, 3, 1, separation=8.0)
    (done,) = [e for e in gmm_heldout(X, 0.2, seed=4) if isinstance(e, Done)]
    r = done.result
    assert r["k"] == 3 and np.isfinite(r["test_ll"]) and r["train_ll"] >= r["test_ll"] - 0.5
    train_idx, test_idx = holdout_split(600, 0.2, 4)
    assert len(test_idx) == 120 and not set(train_idx) & set(test_idx)
