"""NADE and MADE: exact normalised likelihoods in any ordering, autoregressive masks, the cached samplers equal
the naive ones, ensembles of masks average probabilities, and both plug into the catalog and the CLI."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import engine.cli.main as cli
from engine.catalog import build_model, get, load_model
from engine.checkpoints import read_config
from engine.errors import ConfigError
from engine.models.made import MADE
from engine.models.nade import NADE
from engine.models.orderings import ORDERINGS, check_ordering, known_first, make_ordering, step_map
from engine.sampling import autoregressive as ar

ALL_3x2 = torch.tensor(list(itertools.product([0, 1], repeat=6)), dtype=torch.float32)


def tiny(kind: str, **kw):
    torch.manual_seed(0)
    if kind == "nade":
        model = NADE(hidden=5, height=3, width=2, **kw)
    else:  # "made", or "made_direct": with the direct input -> output connection
        model = MADE(hidden=[7, 6], height=3, width=2, direct=kind == "made_direct", **kw)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))  # far from the small initial weights
    return model.eval()


@pytest.mark.parametrize("name", ORDERINGS)
def test_orderings_are_permutations_with_their_shape(name):
    order = make_ordering(name, 4, 5, seed=3)
    assert sorted(order.tolist()) == list(range(20))
    steps = step_map(order, 4, 5)
    if name == "column":
        assert steps[:, 0].tolist() == [0, 1, 2, 3]
    if name == "snake":
        assert steps[1].tolist() == [9, 8, 7, 6, 5]
    if name == "spiral":
        assert steps.argmin() in (7, 12) and steps[0, 0] > 15  # starts in the middle, corners last
    with pytest.raises(ConfigError):
        check_ordering([0, 1, 1], 3)
    mask = np.zeros(20, bool)
    mask[[3, 17]] = True
    assert known_first(mask, order)[:2].tolist() == [i for i in order.tolist() if i in (3, 17)]


@pytest.mark.parametrize("kind", ["nade", "made", "made_direct"])
@pytest.mark.parametrize("ordering", ["raster", "spiral", "random"])
def test_probabilities_of_every_image_sum_to_one(kind, ordering):
    model = tiny(kind, ordering=ordering, order_seed=5)
    with torch.no_grad():
        total = torch.logsumexp(model.log_prob(ALL_3x2), 0)
    assert float(total) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("kind", ["nade", "made", "made_direct"])
def test_output_t_depends_only_on_inputs_generated_before_it(kind):
    model = tiny(kind, ordering="random", order_seed=2)
    x = torch.rand(1, 6, requires_grad=True)
    logits = model.logits(x)[0]
    step = torch.as_tensor(step_map(model.order(), 3, 2)).reshape(-1)
    for i in range(6):
        (grad,) = torch.autograd.grad(logits[i], x, retain_graph=True)
        may = step < step[i]
        assert torch.all(grad[0][~may] == 0)
        assert torch.all(grad[0][may] != 0) or kind == "made"  # MADE may drop a path (not with direct); never add one


@pytest.mark.parametrize("kind", ["nade", "made", "made_direct"])
def test_cached_sampler_equals_naive_and_chain_rule_equals_log_prob(kind):
    model = tiny(kind, ordering="snake")
    fast = ar.sample(model, 6, strategy="sample", seed=4, method="fast", score=False)
    naive = ar.sample(model, 6, strategy="sample", seed=4, method="naive", score=False)
    np.testing.assert_array_equal(fast.values, naive.values)
    np.testing.assert_allclose(fast.log_prob, model.log_prob(torch.as_tensor(fast.values)).detach().numpy(), atol=1e-5)


def test_made_ensemble_is_the_log_of_the_mean_probability_and_a_proper_distribution():
    model = tiny("made", masks=4, order_agnostic=True)
    with torch.no_grad():
        per_set = []
        for i in range(4):
            model.select(i)
            per_set.append(model.log_prob(ALL_3x2).exp())
        model.select(0)
        ens = model.ensemble_log_prob(ALL_3x2)
    np.testing.assert_allclose(ens.exp().numpy(), torch.stack(per_set).mean(0).numpy(), rtol=1e-5)
    assert float(ens.exp().sum()) == pytest.approx(1.0, abs=1e-5)
    assert model.mask_index == 0 and not torch.equal(model.mask_set(1)[0], model.mask_set(2)[0])


def test_made_trains_on_the_next_mask_set_each_minibatch_and_evaluates_on_the_first():
    model = tiny("made", masks=3, order_agnostic=True).train()
    orders = []
    for _ in range(4):
        model.loss(ALL_3x2[:4])
        orders.append(model.order().tolist())
    assert orders[0] != orders[1] and orders[0] == orders[3]
    model.eval()
    assert model.mask_index == 0


def test_completion_in_a_known_first_ordering_is_a_true_conditional(tmp_path):
    model = tiny("made", masks=2, order_agnostic=True)
    known = np.array([1, 0, 0, 0, 0, 1])
    mask = np.array([True, False, False, False, False, True])
    model.select(1, order=known_first(mask, model.order()))
    done = ar.sample(model, 2000, strategy="sample", seed=0, known=known[None], mask=mask[None])
    assert (done.values[:, mask] == known[mask]).all()
    # the exact conditional p(x_1 = 1 | known) from the joint
    with torch.no_grad():
        joint = model.log_prob(ALL_3x2).exp()
    fits = (ALL_3x2[:, torch.as_tensor(mask)] == torch.as_tensor(known[mask]).float()).all(1)
    p1 = float(joint[fits & (ALL_3x2[:, 1] == 1)].sum() / joint[fits].sum())
    assert done.values[:, 1].mean() == pytest.approx(p1, abs=0.04)


@pytest.mark.parametrize("kind", ["nade", "made"])
def test_the_catalog_trains_evaluates_and_samples_it_with_no_plumbing(kind, tmp_path, capsys):
    out = tmp_path / f"{kind}.safetensors"
    hidden = ["--hidden", "16"]
    assert cli.main(["--device", "cpu", "train", kind, "--dataset", "generated", "--limit", "64", "--epochs", "1",
                     "--batch-size", "32", "--threads", "1", "--ordering", "spiral", *hidden, "--out", str(out)]) == 0
    model = load_model(out, kind)
    assert read_config(out)["hparams"]["ordering"] == "spiral"
    torch.testing.assert_close(model.order(), make_ordering("spiral", 28, 28))
    assert cli.main(["eval", kind, "--checkpoint", str(out), "--limit", "50"]) == 0
    png = tmp_path / "s.png"
    assert cli.main(["sample", kind, "--checkpoint", str(out), "--strategy", "top-p", "--top-p", "0.9", "-n", "2",
                     "--out", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert get(kind).hparams_from({"hidden": [8] if kind == "made" else 8})
    assert build_model(kind, {"hidden": [8] if kind == "made" else 8, "height": 2, "width": 2}).size == 4


def test_nade_blocked_running_sum_equals_the_step_by_step_chain_over_many_blocks():
    torch.manual_seed(1)
    model = NADE(hidden=9, height=5, width=8, ordering="random", order_seed=1).eval()  # D = 40: three blocks
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    done = ar.sample(model, 5, strategy="sample", seed=2, score=False)
    np.testing.assert_allclose(model.log_prob(torch.as_tensor(done.values)).detach().numpy(), done.log_prob, atol=1e-4)


@pytest.mark.parametrize("kind,hparams,words", [
    ("nade", {"hidden": 10**7}, "between 1 and 8192"),
    ("made", {"hidden": [8192, 8192, 8192], "masks": 64}, "more than the"),
    ("made", {"ordering": "zigzag"}, "zigzag"),
    ("nade", {"height": "x"}, "height"),
])
def test_checkpoint_settings_checked_before_building(tmp_path, kind, hparams, words):
    """A header claiming settings that do not fit is refused with a sentence before a tensor is allocated."""
    from engine.checkpoints import save_checkpoint
    from engine.errors import CheckpointError

    path = save_checkpoint(tmp_path / "m.safetensors", {"w": torch.zeros(2)}, {"kind": kind, "hparams": hparams})
    with pytest.raises(CheckpointError, match=words):
        load_model(path)


def test_ensemble_nll_is_the_log_mean_probability_and_reaches_the_card(tmp_path):
    """eval's ensemble figures equal ensemble_log_prob, and the card states them with the gain over one mask."""
    from engine.cards.common import save_test_metrics
    from engine.checkpoints import save_checkpoint
    from engine.evaluation.likelihood import ensemble_nll
    from engine.events import Done

    model = tiny("made", masks=4, order_agnostic=True).eval()
    rows = ALL_3x2.numpy()[::3]
    result = ar.drain(ensemble_nll(model, rows, (1, 2, 4), batch=5), Done).result
    for count in (1, 2, 4):
        want = -float(model.ensemble_log_prob(torch.as_tensor(rows), count).mean().detach())
        assert result[count] == pytest.approx(want, rel=1e-5)
    assert model.mask_index == 0  # the selection is put back
    path = save_checkpoint(tmp_path / "m.safetensors", model.state_dict(),
                           {"kind": "made", "hparams": model.hparams(), "history": [{"epoch": 1, "train": 5.0, "val": 6.0}]})
    card = save_test_metrics(path, {"nll_nats": result[1], "bits_per_dim": 1.0, "test_images": len(rows),
                                    "test_set": "toy rows", "ensemble_nll_nats": {str(c): v for c, v in result.items()}})
    text = card.read_text()
    assert f"| 4 | {result[4]:.2f} |" in text and f"Gain of 4 masks over one: {result[1] - result[4]:.2f}" in text
    assert "| 1 | 5.00 | 6.00 |" in text
