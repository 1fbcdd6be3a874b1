"""The autoregressive protocol: a toy lookup-table model through the generic sampler, beam search and
completion; PixelCNN and WaveNet: generic path == compiled back end == naive full-forward path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from engine.errors import ConfigError
from engine.models import wavenet_kernels as K
from engine.models.pixelcnn import PixelCNN
from engine.models.wavenet import WaveNet
from engine.sampling import autoregressive as ar
from engine.sampling.decoding import MinP, Strategy, Temperature, TopK, TopP, make_strategy

V, D = 3, 5


class TableState:
    """B sequences of the toy: the logits of step i are table[i, previous value] (+ a label bias)."""

    def __init__(self, model: "Table", batch: int, labels):
        self.model, self.step = model, 0
        self.prev = torch.full((batch,), V)  # V = the start token
        self.labels = None if labels is None else torch.as_tensor(np.atleast_1d(labels)).long().expand(batch)

    def logits(self) -> torch.Tensor:
        out = self.model.table[self.step, self.prev]
        return out if self.labels is None else out + self.model.cond[self.labels, self.step]

    def advance(self, values: torch.Tensor) -> None:
        self.prev, self.step = values.long(), self.step + 1

    def reorder(self, index: torch.Tensor) -> None:
        self.prev = self.prev[index]
        self.labels = None if self.labels is None else self.labels[index]


class Table:
    """A toy autoregressive model over D steps of V values, generated in a non-raster order."""

    n_values = V

    def __init__(self, seed: int = 0):
        gen = torch.Generator().manual_seed(seed)
        self.table = torch.randn(D, V + 1, V, generator=gen) * 1.5
        self.cond = torch.randn(2, D, V, generator=gen)

    def n_steps(self, length=None) -> int:
        return D

    def order(self, length=None) -> torch.Tensor:
        return torch.tensor([2, 0, 4, 1, 3])

    def start(self, batch, labels=None, length=None, method="fast", known=None) -> TableState:
        return TableState(self, batch, labels)

    def log_prob(self, values, labels=None) -> torch.Tensor:
        values = torch.as_tensor(values).long()
        state, total = self.start(len(values), labels), torch.zeros(len(values), dtype=torch.float64)
        for pos in self.order():
            lp = torch.log_softmax(state.logits().double(), -1)
            total += lp.gather(1, values[:, pos, None])[:, 0]
            state.advance(values[:, pos])
        return total


ALL = torch.tensor(list(itertools.product(range(V), repeat=D)))
STRATEGIES = [make_strategy("sample"), make_strategy("greedy"), make_strategy("temperature", temperature=0.6),
              make_strategy("top-k", top_k=2), make_strategy("top-p", top_p=0.7), make_strategy("min-p", min_p=0.3),
              Strategy("chain", (TopK(2), TopP(0.8)), "sample"), Strategy("chain", (Temperature(0.7), MinP(0.2)))]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.describe())
@pytest.mark.parametrize("label", [None, 1])
def test_every_strategy_runs_through_the_generic_sampler(strategy, label):
    model = Table()
    events = list(ar.sample_steps(model, 6, strategy=strategy, seed=3, labels=label))
    steps, done = events[:-1], events[-1]
    assert [e.position for e in steps] == model.order().tolist() and done.values.shape == (6, D)
    for e in steps:
        assert np.array_equal(done.values[:, e.position], e.value)
        assert np.all(e.probs_after[np.arange(6), e.value] > 0) and np.all((e.probs_after > 0) <= (e.probs_before > 0))
    np.testing.assert_allclose(done.log_prob, model.log_prob(done.values, label).numpy(), rtol=1e-6)
    np.testing.assert_allclose(steps[-1].log_prob_so_far, done.log_prob, rtol=1e-5)
    again = ar.sample(model, 6, strategy=strategy, generator=torch.Generator().manual_seed(3), labels=label)
    assert np.array_equal(again.values, done.values)
    chunks = list(ar.sample_chunks(model, 6, chunk=2, strategy=strategy, seed=3, labels=label))
    assert np.array_equal(np.concatenate([c.values for c in chunks[:-1]]), done.values[:, model.order()].T)
    if strategy.selector == "greedy" or strategy.processors == (Temperature(0.6),):
        return
    assert not np.array_equal(ar.sample(model, 6, strategy=strategy, seed=4, labels=label).values, done.values)


def test_greedy_is_the_argmax_chain_and_top_k_1_equals_it():
    model = Table()
    greedy = ar.sample(model, 2, strategy="greedy", seed=0).values
    assert np.array_equal(greedy, ar.sample(model, 2, strategy=make_strategy("top-k", top_k=1), seed=9).values)
    state, want = model.start(1), np.zeros(D, np.int64)
    for pos in model.order():
        want[pos] = int(state.logits().argmax(-1))
        state.advance(torch.tensor([want[pos]]))
    assert np.array_equal(greedy[0], want) and np.array_equal(greedy[1], want)


def test_ancestral_samples_follow_the_model():
    model = Table()
    done = ar.sample(model, 20000, seed=0, score=False)
    codes = (done.values * V ** np.arange(D)[::-1]).sum(1)
    freq = np.bincount(codes, minlength=V ** D) / len(codes)
    probs = model.log_prob(ALL).exp().numpy()
    assert np.abs(freq - probs).max() < 0.015


@pytest.mark.parametrize("label", [None, 0])
def test_probabilities_sum_to_one_and_full_beam_lists_every_sequence(label):
    model = Table()
    log_p = model.log_prob(ALL, label)
    assert float(log_p.exp().sum()) == pytest.approx(1.0, abs=1e-9)
    events = list(ar.beam_steps(model, V ** D, label=label))
    done = events[-1]
    assert len(events) == D + 1 and len(done.values) == V ** D
    order = torch.sort(log_p, descending=True, stable=True).indices
    np.testing.assert_allclose(done.log_prob, log_p[order].numpy(), atol=1e-9)
    assert {tuple(v) for v in done.values} == {tuple(v) for v in ALL.tolist()}
    np.testing.assert_allclose(np.exp(done.log_prob).sum(), 1.0, atol=1e-9)
    narrow = list(ar.beam_steps(model, 2, label=label))[-1]
    assert narrow.values.shape == (2, D) and narrow.log_prob[0] >= narrow.log_prob[1]


def test_completion_copies_known_values_and_counts_only_sampled_steps():
    model = Table()
    known = np.array([[2, 1, 0, 2, 1]])
    mask = np.array([[True, False, True, False, False]])
    events = list(ar.sample_steps(model, 4, seed=1, known=known, mask=mask))
    done = events[-1]
    assert np.all(done.values[:, mask[0]] == known[0, mask[0]])
    assert [bool(e.sampled.all()) for e in events[:-1]] == [not mask[0, p] for p in model.order()]
    state, sampled = model.start(4), np.zeros(4)
    for pos in model.order():
        lp = torch.log_softmax(state.logits().double(), -1).gather(1, torch.as_tensor(done.values[:, pos, None]))[:, 0]
        sampled += 0 if mask[0, pos] else lp.numpy()
        state.advance(torch.as_tensor(done.values[:, pos]))
    np.testing.assert_allclose(done.sampled_log_prob, sampled, rtol=1e-9)
    with pytest.raises(ConfigError):
        ar.sample(model, known=known)
    with pytest.raises(ConfigError):
        ar.sample(model, strategy=make_strategy("beam", beam_width=2))


def test_the_toy_implements_the_protocol():
    model = Table()
    assert isinstance(model, ar.Autoregressive) and isinstance(model.start(1), ar.IncrementalState)
    assert isinstance(PixelCNN(height=2, width=2), ar.Autoregressive) and isinstance(WaveNet(), ar.Autoregressive)


# --------------------------------------------------------------------------- PixelCNN and WaveNet back ends


PIXEL_STRATEGIES = STRATEGIES[:6] + [Strategy("chain", (TopK(3), TopP(0.9)))]


@pytest.mark.parametrize("strategy", PIXEL_STRATEGIES, ids=lambda s: s.describe())
@pytest.mark.parametrize("cond", [0, 3])
def test_pixelcnn_generic_equals_compiled_torch_and_naive(strategy, cond):
    torch.manual_seed(0)
    model = PixelCNN(levels=5, channels=6, layers=2, kernel=3, first_kernel=3, height=4, width=5,
                     num_classes=cond).eval()
    labels = [2, 0] if cond else None
    known = np.random.default_rng(0).integers(0, 5, (1, 20))
    mask = np.random.default_rng(1).random((1, 20)) < 0.3
    for kw in ({}, {"known": known, "mask": mask}):
        runs = [ar.sample(model, 2, strategy=strategy, seed=7, labels=labels, method=m, **kw).values
                for m in ("fast", "torch", "naive")]
        assert np.array_equal(runs[0], runs[1]) and np.array_equal(runs[0], runs[2])
        if kw:
            assert np.all(runs[0][:, mask[0]] == known[0, mask[0]])


def tiny_wavenet(levels=64, cond=3) -> WaveNet:
    torch.manual_seed(0)
    model = WaveNet(levels=levels, residual=6, skip=8, layers_per_stack=3, stacks=2, cond_classes=cond).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return model


WAVE_STRATEGIES = STRATEGIES[:6] + [Strategy("top-k then top-p", (TopK(20), TopP(0.9))),
                                    Strategy("T then min-p", (Temperature(0.7), MinP(0.05)))]


@pytest.mark.parametrize("strategy", WAVE_STRATEGIES, ids=lambda s: s.describe())
@pytest.mark.parametrize("cond", [0, 3])
def test_wavenet_compiled_chunks_equal_the_generic_steps(strategy, cond):
    """The compiled kernel (whole chunks, its own decoding of the exported chain) == generic decoding."""
    model = tiny_wavenet(cond=cond)
    labels = [1, 2] if cond else None
    known = np.random.default_rng(0).integers(0, 64, (1, 240))
    mask = np.arange(240)[None] < 30  # priming
    for kw in ({}, {"known": known, "mask": mask}):
        args = dict(strategy=strategy, seed=5, labels=labels, length=240, chunk=70, **kw)
        fast = list(ar.sample_chunks(model, 2, **args))
        generic = list(ar.sample_chunks(model, 2, compiled=False, **args))
        assert np.array_equal(fast[-1].values, generic[-1].values)
        np.testing.assert_allclose(fast[-1].sampled_log_prob, generic[-1].sampled_log_prob, rtol=1e-6)
        for a, b in zip(fast[:-1], generic[:-1]):
            np.testing.assert_allclose(a.probs, b.probs, atol=1e-6)
            np.testing.assert_allclose(a.log_probs, b.log_probs, atol=1e-5)


@pytest.mark.parametrize("strategy", WAVE_STRATEGIES, ids=lambda s: s.describe())
def test_wavenet_compiled_equals_torch_queues_and_naive(strategy):
    model = tiny_wavenet(levels=16)
    known = np.zeros((1, 50), np.int64)
    prime = known[:, :10] = np.random.default_rng(2).integers(0, 16, (1, 10))
    args = dict(strategy=strategy, seed=5, labels=[0], length=50, known=known, mask=np.arange(50)[None] < 10)
    runs = [ar.drain(ar.sample_chunks(model, 1, method=m, chunk=16, **args)).values for m in ("fast", "torch", "naive")]
    assert np.array_equal(runs[0], runs[1]) and np.array_equal(runs[0], runs[2])
    assert np.all(runs[0][0, :10] == prime[0])


def test_a_chain_draws_the_same_in_the_kernel_and_in_torch():
    """Chains in order (top-k then top-p; temperature then min-p) on random logits with ties: same draws."""
    rng = np.random.default_rng(0)
    for strategy in WAVE_STRATEGIES[-2:] + [Strategy("p then k", (TopP(0.5), TopK(3), Temperature(0)), "sample")]:
        chain, greedy = strategy.chain()
        for _ in range(300):
            logits = (rng.normal(size=64) * 2).astype(np.float32)
            logits[5] = logits[6]
            u = rng.random()
            value, _ = K.choose(logits, chain, greedy, u)
            want, _ = strategy.decide(torch.as_tensor(logits)[None], torch.tensor([u], dtype=torch.float64))
            assert value == int(want[0])
