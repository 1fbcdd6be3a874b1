"""The ordering studio's engine: drawn orderings, NLL under an ordering, per-pixel maps, the ensemble curve."""

import math

import numpy as np
import pytest
import torch

from engine.errors import ConfigError
from engine.events import Done, Progress
from engine.models.made import MADE
from engine.models.nade import NADE
from engine.models.orderings import make_ordering
from engine.evaluation.ordering_study import (Contender, EnsembleCurve, Scored, ensemble_counts, read_ordering, score,
                                              study, visit_ordering)


def rows(n=37, d=16, seed=0):
    return np.random.default_rng(seed).integers(0, 2, (n, d)).astype(np.uint8)


def test_a_drawn_ordering_keeps_the_first_visits_then_the_rest_in_raster_order():
    order = visit_ordering([5, 6, 5, 10, 6, 0], 16)
    assert order.tolist() == [5, 6, 10, 0, 1, 2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15]
    assert visit_ordering([], 4).tolist() == [0, 1, 2, 3]
    with pytest.raises(ConfigError, match="outside"):
        visit_ordering([3, 16], 16)


def test_ensemble_counts_double_up_to_the_number_of_masks():
    assert ensemble_counts(1) == (1,)
    assert ensemble_counts(8) == (1, 2, 4, 8)
    assert ensemble_counts(6) == (1, 2, 4, 6)


def test_a_score_is_the_exact_nll_and_its_map_sums_to_it():
    torch.manual_seed(0)
    model = NADE(hidden=6, height=4, width=4, ordering="snake").eval()
    x = rows()
    events = list(score(Contender("nade", model, "snake"), x, batch=10))
    assert [e.done for e in events if isinstance(e, Progress)] == [10, 20, 30, 37]
    scored = events[-1]
    assert isinstance(scored, Scored) and scored.images == 37 and scored.heatmap.shape == (4, 4)
    want = -float(model.log_prob(torch.as_tensor(x)).detach().double().mean())
    assert scored.nll == pytest.approx(want, rel=1e-5)
    assert float(scored.heatmap.astype(np.float64).sum()) == pytest.approx(want, rel=1e-5)


def test_a_made_scored_under_another_ordering_uses_it_and_gets_its_own_back():
    torch.manual_seed(0)
    model = MADE(hidden=[20], height=4, width=4, masks=4, order_agnostic=True).eval()
    model.select(1)
    own = model.perm.clone()
    spiral = make_ordering("spiral", 4, 4)
    x = rows()
    scored = list(score(Contender("oa", model, "spiral", spiral), x))[-1]
    assert torch.equal(model.perm, own) and model.mask_index == 1, "the model's own mask set is put back"
    model.select(1, spiral)
    want = -float(model.log_prob(torch.as_tensor(x)).detach().double().mean())
    assert scored.nll == pytest.approx(want, rel=1e-5)
    model.select(1)
    assert scored.nll != pytest.approx(-float(model.log_prob(torch.as_tensor(x)).detach().double().mean()), rel=1e-6)


def test_a_nade_refuses_another_ordering_in_one_sentence():
    model = NADE(hidden=4, height=4, width=4)
    with pytest.raises(ConfigError, match="only a MADE"):
        list(score(Contender("nade", model, "spiral", make_ordering("spiral", 4, 4)), rows()))


def test_the_study_scores_everyone_then_draws_the_ensemble_curve_with_overall_progress():
    torch.manual_seed(0)
    nade = NADE(hidden=6, height=4, width=4).eval()
    oa = MADE(hidden=[20], height=4, width=4, masks=4, order_agnostic=True).eval()
    x = rows(n=20)
    events = list(study([Contender("nade", nade, "raster"), Contender("oa", oa, "column",
                                                                      make_ordering("column", 4, 4))],
                        x, ensemble=Contender("oa", oa, "its own"), batch=10))
    progress = [e for e in events if isinstance(e, Progress)]
    assert all(p.total == 60 for p in progress) and progress[-1].done == 60
    assert [p.done for p in progress] == sorted(p.done for p in progress)
    curve = next(e for e in events if isinstance(e, EnsembleCurve))
    assert curve.counts == (1, 2, 4)
    per_mask = []
    for i in range(4):
        oa.select(i)
        per_mask.append(oa.log_prob(torch.as_tensor(x)).detach().double())
    stacked = torch.stack(per_mask)
    for count, nll in zip(curve.counts, curve.nlls):
        want = -float((torch.logsumexp(stacked[:count], 0) - math.log(count)).mean())
        assert nll == pytest.approx(want, rel=1e-5)
    done = events[-1]
    assert isinstance(done, Done) and [s.name for s in done.result] == ["nade", "oa"]


def test_an_ordering_file_is_read_as_text_or_npy_and_anything_else_is_one_sentence(tmp_path):
    text, npy = tmp_path / "o.txt", tmp_path / "o.npy"
    text.write_text("3, 1 2\n0\n")
    np.save(npy, np.array([1, 0, 3, 2]))
    assert read_ordering(text, 4).tolist() == [3, 1, 2, 0]
    assert read_ordering(npy, 4).tolist() == [1, 0, 3, 2]
    for content, match in [("3 1 1 0", "exactly once"), ("0 1 2", "got 3 entries"), ("0 1 x 3", "not an ordering"),
                           ("0 1 2 3.5", "not an ordering")]:
        text.write_text(content)
        with pytest.raises(ConfigError, match=match):
            read_ordering(text, 4)
    with pytest.raises(ConfigError, match="Could not read missing.txt"):
        read_ordering(tmp_path / "missing.txt", 4)
    (tmp_path / "big.txt").write_bytes(b"0 " * (1 << 20))
    with pytest.raises(ConfigError, match="too large"):
        read_ordering(tmp_path / "big.txt", 4)
