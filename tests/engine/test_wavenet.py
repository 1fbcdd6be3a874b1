"""WaveNet: causality, exact likelihood, cached generation == teacher forcing, decoding parity, μ-law."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from engine.data.sound import mu_law_decode, mu_law_encode, mu_law_error_bound
from engine.sampling.decoding import inverse_cdf, make_strategy
from engine.errors import ConfigError
from engine.models import wavenet_kernels as K
from engine.models.wavenet import WaveNet
from engine.sampling import wavenet as ws


def tiny(levels=16, cond=3, **kw) -> WaveNet:
    torch.manual_seed(0)
    hp = dict(levels=levels, residual=6, skip=8, layers_per_stack=3, stacks=2, cond_classes=cond) | kw
    model = WaveNet(**hp).eval()
    with torch.no_grad():  # larger weights than the default init, so every path matters in the comparisons
        for p in model.parameters():
            p.mul_(3.0)
    return model


def test_receptive_field_and_causality_by_gradients():
    model = tiny(cond=0)
    assert model.receptive_field == 1 + 2 * (1 + 2 + 4)
    length, t = 40, 30
    h = torch.randn(1, model.residual, length, requires_grad=True)
    out = model.forward_embedded(h, model.cond_bias(None, 1))  # (1, T, Q)
    out[0, t].sum().backward()
    reach = h.grad[0].abs().sum(0)
    assert torch.all(reach[t + 1:] == 0), "output t must not see inputs after t"
    assert torch.all(reach[: t - model.receptive_field + 1] == 0), "nor inputs beyond the receptive field"
    assert reach[t] > 0 and reach[t - model.receptive_field + 1] > 0


def test_shifted_input_makes_output_t_blind_to_sample_t():
    model = tiny(cond=0)
    codes = torch.randint(0, 16, (1, 12))
    changed = codes.clone()
    changed[0, 7] = (codes[0, 7] + 5) % 16
    a, b = model(codes), model(changed)
    assert torch.allclose(a[0, :8], b[0, :8]) and not torch.allclose(a[0, 8], b[0, 8])


def test_probabilities_of_all_sequences_sum_to_one():
    model = tiny(levels=4, cond=2)
    seqs = torch.tensor(list(itertools.product(range(4), repeat=3)))
    for label in (0, 1):
        total = model.log_prob(seqs, torch.full((len(seqs),), label)).detach().double().exp().sum()
        assert abs(float(total) - 1.0) < 1e-5


@pytest.mark.parametrize("levels", [256, 16])
def test_mu_law_round_trip_within_bound(levels):
    x = np.concatenate([np.linspace(-1, 1, 20001), np.random.default_rng(0).uniform(-1, 1, 5000)])
    codes = mu_law_encode(x, levels)
    assert codes.min() >= 0 and codes.max() == levels - 1 and np.all(np.diff(mu_law_encode(np.sort(x), levels)) >= 0)
    err = np.abs(mu_law_decode(codes, levels) - x)
    assert np.all(err <= mu_law_error_bound(x, levels))
    assert err[np.abs(x) < 0.01].max() < err.max() / 5  # fine steps near silence
    assert torch.equal(mu_law_encode(torch.as_tensor(x), levels), torch.as_tensor(codes))


@pytest.mark.parametrize("strategy", ["sample", "greedy", "top-p"])
def test_cached_generation_equals_teacher_forcing_and_naive(strategy):
    model = tiny()
    kw = {"top_p": 0.8} if strategy == "top-p" else {}
    strat = make_strategy(strategy, **kw)
    fast = ws.generate(model, 60 / 8000, strategy=strat, seed=5, label=2, chunk=17)
    naive = ws.generate(model, 60 / 8000, strategy=strat, seed=5, label=2, method="naive", chunk=17)
    assert np.array_equal(fast.codes, naive.codes)
    forward = float(model.log_prob(torch.as_tensor(fast.codes)[None], torch.tensor([2])).detach())
    assert fast.log_prob == pytest.approx(forward, rel=1e-4)


def test_torch_queues_match_compiled(monkeypatch):
    model = tiny()
    fast = ws.generate(model, 50 / 8000, seed=1, label=0)
    monkeypatch.setattr(K, "HAVE_NUMBA", False)
    slow = ws.generate(model, 50 / 8000, seed=1, label=0)
    assert np.array_equal(fast.codes, slow.codes)


def test_same_seed_same_audio_and_seed_matters():
    model = tiny()
    a, b = (ws.generate(model, 0.01, seed=3, label=1) for _ in range(2))
    c = ws.generate(model, 0.01, seed=4, label=1)
    assert np.array_equal(a.audio, b.audio) and not np.array_equal(a.codes, c.codes)


def test_priming_keeps_the_prime_and_continues():
    model = tiny()
    prime = np.sin(np.linspace(0, 20, 30)).astype(np.float32) * 0.5
    done = ws.generate(model, 20 / 8000, seed=0, label=0, prime=prime, chunk=7)
    assert np.array_equal(done.codes[:30], mu_law_encode(prime, 16)) and len(done.codes) == 50
    assert done.generated == 20


@pytest.mark.parametrize("name,kw", [("sample", {"temperature": 0.7}), ("top-k", {"top_k": 3}), ("top-p", {"top_p": 0.6}),
                                     ("min-p", {"min_p": 0.2}), ("greedy", {}), ("temperature", {"temperature": 0})])
def test_compiled_decoding_matches_engine_decoding(name, kw):
    strategy = make_strategy(name, **kw)
    chain, greedy = strategy.chain()
    rng = np.random.default_rng(0)
    for _ in range(30):
        logits = (rng.normal(size=32) * 2).astype(np.float32)
        logits[5] = logits[6]  # a tie
        u = rng.random()
        value, logp = K.choose(logits, chain, greedy, u)
        t = torch.as_tensor(logits)[None]
        expected = int(t.argmax()) if strategy.selector == "greedy" else int(inverse_cdf(strategy.process(t), torch.tensor([[u]], dtype=torch.float64)))
        assert value == expected
        assert logp == pytest.approx(float(torch.log_softmax(t.double(), -1)[0, value]), abs=1e-5)


def test_bad_settings_are_refused():
    model = tiny()
    with pytest.raises(ConfigError, match="Beam search is not offered"):
        ws.generate(model, 0.01, strategy=make_strategy("beam", beam_width=2), label=0)
    with pytest.raises(ConfigError, match="digit must be in 0..2"):
        ws.generate(model, 0.01, label=7)
    with pytest.raises(ConfigError, match="conditioned on the digit"):
        ws.generate(model, 0.01)
    with pytest.raises(ConfigError, match="seconds"):
        ws.generate(model, -1, label=0)
    with pytest.raises(ConfigError, match="levels"):
        WaveNet(levels=1)


def test_loss_reports_bits_per_sample():
    model = tiny()
    rows = torch.cat([torch.randint(0, 16, (3, 20)), torch.tensor([[0], [1], [2]])], 1).float()
    loss, metrics = model.loss(rows)
    assert float(metrics["bits_per_sample"]) == pytest.approx(float(loss.detach()) / np.log(2))
    assert model.mflop_per_sample() > 0


def test_batched_torch_path_matches_single_streams():
    model = tiny()
    batch = ws.generate_batch(model, 30 / 8000, labels=[0, 2, 1], strategy="greedy")
    for b, label in enumerate([0, 2, 1]):
        single = ws.generate(model, 30 / 8000, strategy="greedy", label=label)
        assert np.array_equal(batch[b], single.codes)
    sampled = ws.generate_batch(model, 30 / 8000, labels=[1, 1], seed=3)
    assert sampled.shape == (2, 30) and not np.array_equal(sampled[0], sampled[1])
