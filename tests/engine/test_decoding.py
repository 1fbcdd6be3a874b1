"""Logits processors, selectors, strategies and the generic beam search."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from engine.sampling.decoding import (MinP, Temperature, TopK, TopP, beam_search, bernoulli_as_categorical, greedy,
                             make_strategy, multinomial)
from engine.errors import ConfigError


def logits_batch(seed: int = 0, b: int = 6, v: int = 7) -> torch.Tensor:
    return torch.randn(b, v, generator=torch.Generator().manual_seed(seed)) * 2


def kept(processed: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(processed)


@pytest.mark.parametrize("proc", [Temperature(0), Temperature(0.5), TopK(3), TopP(0.7), MinP(0.2)])
def test_processors_never_modify_their_input(proc):
    logits = logits_batch()
    copy = logits.clone()
    out = proc(logits)
    assert torch.equal(logits, copy) and out.shape == logits.shape
    assert torch.equal(out[kept(out)], (logits / proc.t if isinstance(proc, Temperature) and proc.t else logits)[kept(out)])


def test_top_k_keeps_exactly_k_even_with_ties():
    logits = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.0], [5.0, 4.0, 3.0, 2.0, 1.0]])
    for k in range(1, 6):
        out = TopK(k)(logits)
        assert kept(out).sum(1).tolist() == [k, k]
    assert kept(TopK(2)(logits))[1].tolist() == [True, True, False, False, False]


def test_top_p_keeps_the_smallest_set_with_enough_mass():
    """Against brute force: the smallest set of values (highest first) whose probability is >= p."""
    logits = logits_batch(3, b=20, v=6)
    probs = torch.softmax(logits.double(), -1)
    for p in (0.05, 0.3, 0.5, 0.9, 0.999, 1.0):
        out = kept(TopP(p)(logits))
        for row in range(len(logits)):
            order = torch.argsort(probs[row], descending=True)
            n = next(n for n in range(1, 7) if probs[row, order[:n]].sum() >= p - 1e-12)
            assert out[row].sum() == n
            assert out[row, order[:n]].all()


def test_min_p_keeps_values_near_the_top():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert kept(MinP(0.5)(logits)).tolist() == [[True, True, False, False]]
    assert kept(MinP(1.0)(logits)).sum() == 1


def test_temperature_zero_and_near_zero_equal_greedy():
    logits = logits_batch(5, b=50)
    want = greedy(logits)
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(multinomial(Temperature(0)(logits), gen), want)
    assert torch.equal(multinomial(Temperature(1e-4)(logits), gen), want)
    assert torch.equal(make_strategy("temperature", temperature=0).choose(logits, gen)[0], want)


def test_greedy_ignores_the_generator():
    logits = logits_batch()
    s = make_strategy("greedy")
    a = s.choose(logits, torch.Generator().manual_seed(1))[0]
    b = s.choose(logits, torch.Generator().manual_seed(2))[0]
    assert torch.equal(a, b) and torch.equal(a, logits.argmax(-1))


def test_multinomial_follows_the_distribution_and_the_seed():
    probs = torch.tensor([0.1, 0.0, 0.6, 0.3])
    logits = torch.log(probs).expand(20000, 4)
    draws = multinomial(logits, torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=4).double() / len(draws)
    assert freq[1] == 0  # probability 0 is never drawn
    assert torch.allclose(freq, probs.double(), atol=0.015)
    again = multinomial(logits, torch.Generator().manual_seed(0))
    assert torch.equal(draws, again)


def test_strategy_reports_probabilities_before_and_after():
    logits = logits_batch()
    values, before, after = make_strategy("top-k", top_k=2).choose(logits, torch.Generator().manual_seed(0))
    assert torch.allclose(before.sum(1), torch.ones(len(logits)))
    assert torch.allclose(after.sum(1), torch.ones(len(logits)))
    assert ((after > 0).sum(1) == 2).all()
    assert (after.gather(1, values[:, None]) > 0).all()


def test_bernoulli_is_a_two_way_categorical():
    logit = torch.tensor([-2.0, 0.0, 3.0])
    probs = torch.softmax(bernoulli_as_categorical(logit), -1)
    assert torch.allclose(probs[:, 1], torch.sigmoid(logit))


@pytest.mark.parametrize("name, kwargs", [
    ("top-k", dict(top_k=0)), ("top-k", dict(top_k=2.5)), ("top-k", dict(top_k=-1)), ("top-k", {}),
    ("top-p", dict(top_p=0)), ("top-p", dict(top_p=1.5)), ("top-p", dict(top_p=float("nan"))),
    ("min-p", dict(min_p=0)), ("temperature", dict(temperature=-1)), ("temperature", {}),
    ("sample", dict(temperature="hot")), ("greedy", dict(temperature=0.5)), ("top-p", dict(top_k=3, top_p=0.9)),
    ("beam", {}), ("beam", dict(beam_width=0)), ("nucleus-ish", {}),
])
def test_invalid_settings_are_refused_with_one_sentence(name, kwargs):
    with pytest.raises(ConfigError) as info:
        make_strategy(name, **kwargs)
    text = str(info.value)
    assert text.endswith(".") and "\n" not in text


def test_valid_strategies_parse():
    assert make_strategy("top_p", top_p=0.9, temperature=0.8).processors == (Temperature(0.8), TopP(0.9))
    assert make_strategy("beam", beam_width=3).beam_width == 3
    assert make_strategy("sample").processors == ()
    assert make_strategy("Min-P", min_p=0.1).name == "min-p"


# --------------------------------------------------------------------------- beam search

V, T = 3, 4


def toy_step(prefixes: torch.Tensor) -> torch.Tensor:
    """A fixed second-order Markov chain over V tokens: (n, t) -> (n, V) log-probs."""
    table = torch.log_softmax(torch.randn(V + 1, V + 1, V, generator=torch.Generator().manual_seed(7)) * 2, -1)
    prev1 = prefixes[:, -1] if prefixes.shape[1] else torch.full((len(prefixes),), V)
    prev2 = prefixes[:, -2] if prefixes.shape[1] > 1 else torch.full((len(prefixes),), V)
    return table[prev2, prev1]


def brute_force() -> list[tuple[float, tuple[int, ...]]]:
    scores = []
    for seq in itertools.product(range(V), repeat=T):
        x = torch.tensor([seq])
        total = sum(float(toy_step(x[:, :t])[0, seq[t]]) for t in range(T))
        scores.append((total, seq))
    return sorted(scores, key=lambda s: -s[0])


def test_beam_search_with_full_width_equals_brute_force():
    seqs, scores = beam_search(toy_step, T, V**T)
    want = brute_force()
    assert len(seqs) == V**T
    assert [tuple(s) for s in seqs.tolist()] == [s for _, s in want]
    assert torch.allclose(scores, torch.tensor([s for s, _ in want], dtype=torch.float64))
    assert math.isclose(float(torch.logsumexp(scores, 0)), 0.0, abs_tol=1e-9)


def test_beam_width_one_is_greedy_and_never_beats_exhaustive_search():
    seqs, _ = beam_search(toy_step, T, 1)
    prefix = torch.zeros(1, 0, dtype=torch.long)
    for _ in range(T):
        prefix = torch.cat([prefix, toy_step(prefix).argmax(-1, keepdim=True)], 1)
    assert torch.equal(seqs, prefix)
    best = [float(beam_search(toy_step, T, w)[1][0]) for w in (1, 2, 4, V**T)]
    assert best[-1] == pytest.approx(brute_force()[0][0])
    assert all(b <= best[-1] + 1e-12 for b in best)
