"""MAF and IAF: invertible, triangular per layer, log-det as the sum of log-scales (== slogdet), a normalised 2-D
density, and IAF with MAF's weights is MAF's inverse flow (one-pass maps equal, D-pass maps undo them)."""

from __future__ import annotations

import pytest
import torch

from engine.errors import ConfigError
from engine.models.flows import IAF, MAF, WEIGHT_PENALTY, standard_normal_log_prob


def random_flow(cls, dim: int, layers: int = 3, hidden=(16, 16), seed: int = 1, spread: float = 0.3):
    """A flow with weights moved away from their initial values, in float64."""
    model = cls(dim=dim, layers=layers, hidden=list(hidden), seed=seed).double()
    gen = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(spread * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model.eval()


def points(n: int, dim: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 1.5


@pytest.mark.parametrize("cls", [MAF, IAF])
@pytest.mark.parametrize("dim", [1, 2, 5, 16])
def test_x_to_z_to_x_and_z_to_x_to_z(cls, dim):
    model = random_flow(cls, dim)
    with torch.no_grad():
        x = points(64, dim)
        z, _ = model.to_base(x)
        assert torch.allclose(model.from_base(z), x, atol=1e-5)
        z2 = points(64, dim, seed=1)
        assert torch.allclose(model.to_base(model.from_base(z2))[0], z2, atol=1e-5)
    m32 = cls(dim=dim, layers=4, seed=3)  # float32 as trained, default weights
    with torch.no_grad():
        x = points(32, dim).float()
        assert torch.allclose(m32.from_base(m32.to_base(x)[0]), x, atol=1e-5)


@pytest.mark.parametrize("cls", [MAF, IAF])
@pytest.mark.parametrize("dim", [2, 5, 16])
def test_each_layer_is_triangular_in_its_ordering_and_the_log_scales_sum_to_slogdet(cls, dim):
    model = random_flow(cls, dim)
    orders = model.layer_orders()
    assert torch.equal(orders[0], orders[1].flip(0))  # reversed between layers
    for x in points(3, dim, seed=5):
        for k, order in enumerate(orders):
            jac = model.jacobian(x, layer=k)[order][:, order]
            assert torch.all(jac.triu(1) == 0), f"layer {k} is not triangular in its ordering"
            assert torch.all(jac.diagonal() > 0)
        full = model.jacobian(x)
        sign, logabs = torch.linalg.slogdet(full)
        assert float(sign) != 0
        with torch.no_grad():
            summed = float(model.log_det_sum(x[None])[0])
        assert summed == pytest.approx(float(logabs), abs=1e-8)


@pytest.mark.parametrize("cls", [MAF, IAF])
def test_the_2d_density_integrates_to_one(cls):
    model = random_flow(cls, 2, layers=4, spread=0.2)
    side, half = 541, 16.0  # 0.06 apart; the density is below 1e-4 on the border
    axis = torch.linspace(-half, half, side, dtype=torch.float64)
    grid = torch.cartesian_prod(axis, axis)
    with torch.no_grad():
        density = torch.cat([model.log_prob(chunk) for chunk in grid.split(40_000)]).exp().reshape(side, side)
    step = float(axis[1] - axis[0])
    total = float(torch.trapezoid(torch.trapezoid(density, dx=step), dx=step))
    assert total == pytest.approx(1.0, abs=1e-3)
    assert float(density[0].max() + density[-1].max() + density[:, 0].max() + density[:, -1].max()) < 1e-4


def test_iaf_with_maf_weights_is_the_inverse_flow():
    maf = random_flow(MAF, 5, layers=3, seed=4)
    iaf = IAF(dim=5, layers=3, hidden=[16, 16], seed=4).double()
    iaf.load_state_dict(maf.state_dict())
    noise = points(50, 5, seed=9)
    with torch.no_grad():
        fast_iaf, fast_maf = iaf.from_base(noise), maf.to_base(noise)[0]  # the one-pass maps: equal
        assert torch.equal(fast_iaf, fast_maf)
        slow_iaf, slow_maf = iaf.to_base(noise)[0], maf.from_base(noise)  # the D-pass maps: equal
        assert torch.allclose(slow_iaf, slow_maf, atol=1e-12)
        assert torch.allclose(maf.from_base(iaf.from_base(noise)), noise, atol=1e-5)  # each undoes the other
        assert torch.allclose(iaf.from_base(maf.from_base(noise)), noise, atol=1e-5)
        # so IAF's samples are the points MAF maps that noise to, and their densities match by change of variables
        gen_a, gen_b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        assert torch.equal(iaf.sample(7, gen_a), maf.to_base(torch.randn(7, 5, generator=gen_b, dtype=torch.float64))[0])
        x = iaf.from_base(noise)  # IAF's density at its own sample: the noise's, over MAF's log-det there
        expected = standard_normal_log_prob(noise) - maf.log_det_sum(noise)
        assert torch.allclose(iaf.log_prob(x), expected, atol=1e-9)


def test_same_seed_same_model_and_samples_and_bad_settings():
    a, b = MAF(dim=3, layers=2, hidden=[8], seed=7), MAF(dim=3, layers=2, hidden=[8], seed=7)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert torch.equal(a.sample(5, torch.Generator().manual_seed(1)), b.sample(5, torch.Generator().manual_seed(1)))
    assert a.hparams() == {"dim": 3, "layers": 2, "hidden": [8], "seed": 7}
    assert MAF.fast_direction == "density" and IAF.fast_direction == "sample"
    assert len(a.stages(torch.zeros(4, 3))) == 3
    with pytest.raises(ConfigError):
        MAF(dim=0)
    with pytest.raises(ConfigError):
        a.jacobian(torch.zeros(3), layer=2)


def test_training_lowers_the_nll(monkeypatch):
    torch.manual_seed(0)
    x = torch.randn(256, 2) * torch.tensor([0.3, 2.0]) + torch.tensor([1.0, -1.0])
    x[:, 1] += x[:, 0] ** 2
    model = MAF(dim=2, layers=3, hidden=[16, 16], seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    start = float(-model.log_prob(x).mean().detach())
    for _ in range(100):
        opt.zero_grad()
        loss, metrics = model.loss(x)
        loss.backward()
        opt.step()
    assert float(metrics["nll"]) == pytest.approx(float(-model.log_prob(x).mean().detach()), abs=0.2)
    assert float(-model.log_prob(x).mean().detach()) < start - 1.0
    weights = sum(float((p.detach() ** 2).sum()) for name, p in model.named_parameters() if name.endswith("weight"))
    with torch.no_grad():
        assert float(model.loss(x)[0]) == pytest.approx(float(model.loss(x)[1]["nll"]) + WEIGHT_PENALTY * weights)
        monkeypatch.setattr("engine.models.flows.WEIGHT_PENALTY", 1e-3)  # the penalty, when set, is in the loss
        assert float(model.loss(x)[0]) == pytest.approx(float(model.loss(x)[1]["nll"]) + 1e-3 * weights)


@pytest.mark.parametrize("cls", [MAF, IAF])
def test_one_layer_maps_compose_to_the_flow_and_invert_each_other(cls):
    model = random_flow(cls, 3, layers=4)
    x = points(20, 3)
    with torch.no_grad():
        y, total = x, torch.zeros(20, dtype=x.dtype)
        for k in reversed(range(model.n_layers)):
            down, logdet = model.layer_to_base(k, y)
            assert torch.allclose(model.layer_from_base(k, down), y, atol=1e-6)
            assert float(logdet[0]) == pytest.approx(float(torch.linalg.slogdet(model.jacobian(x[0], layer=k))[1]))
            y, total = down, total + logdet
        z, full = model.to_base(x)
        assert torch.allclose(y, z, atol=1e-9) and torch.allclose(total, full, atol=1e-9)
