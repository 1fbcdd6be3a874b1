"""The autoregressive protocol and the ONE sampler, beam search and completion over it.

Every autoregressive model (PixelCNN and WaveNet now; NADE, MADE, a
character Transformer, a token prior next) implements :class:`Autoregressive`;
everything here is written against that protocol only, so a new family needs
no new sampler. Shapes: ``B`` sequences, ``D`` steps, ``V`` values per step.

A model (:class:`Autoregressive`) declares:

- ``n_values``: V, the values a step can take (2 for binary pixels, 256 for μ-law);
- ``n_steps(length)``: D, fixed for images (``length`` ignored or checked),
  chosen by the caller for audio (``length`` samples);
- ``order(length)``: (D,) int64, the position in the flat variable vector of
  (B, D) generated at each step (raster order ``arange(D)`` for PixelCNN and
  WaveNet; NADE / MADE may use any permutation);
- ``start(batch, labels=None, length=None, method="fast", known=None)``:
  a fresh :class:`IncrementalState` for B sequences; ``labels`` (B,) the
  optional conditioning, ``known`` (B, D) optional known values (a model may
  prefill with them; the sampler feeds them through ``advance`` anyway),
  ``method`` picks the back end ("fast": cached / compiled, "naive": a full
  forward pass per step), all giving the same values for the same seed;
- ``log_prob(values (B, D), labels=None) -> (B,)``: exact teacher-forced log p(x), nats.

A state (:class:`IncrementalState`) holds what the next step needs:

- ``logits() -> (B, V)``: the next step's logits (callable repeatedly);
- ``advance(values (B,) long)``: feed the chosen values; valid whether or
  not ``logits()`` was called for this step;
- ``reorder(index (n,) long)``: keep batch entries ``index`` in that order
  (beam search; n may differ from B);
- optionally ``run_chunk(n, strategy, uniforms (n, B), known (n, B), known_mask (n, B),
  prob_stride)`` -> (values (n, B) long, log p (n, B) float64, probs
  (ceil(n / prob_stride), B, V) float32): a compiled back end doing n whole
  steps in one call, bound to give exactly what n generic steps give.

Randomness: one float64 uniform per step per sequence, drawn as
``torch.rand(B, generator=gen, dtype=float64)`` per step (a chunk draws
(n, B) at once: the same numbers), also for greedy and known steps, so every
back end consumes the generator identically. Decoding is only
:meth:`~engine.sampling.decoding.Strategy.decide`. Known values (completion,
priming) are copied, never sampled; log p so far counts sampled steps only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from engine.device import make_generator
from engine.errors import ConfigError
from engine.sampling.decoding import BeamStep, Strategy, beam_search_steps, make_strategy


@runtime_checkable
class IncrementalState(Protocol):
    """B sequences part-way through generation (see the module docstring)."""

    def logits(self) -> Tensor:
        """The next step's logits (B, V)."""

    def advance(self, values: Tensor) -> None:
        """Feed the chosen values (B,) long and move to the next step."""

    def reorder(self, index: Tensor) -> None:
        """Keep batch entries ``index`` (n,) long, in this order."""


@runtime_checkable
class Autoregressive(Protocol):
    """What the generic sampler needs from a model (see the module docstring)."""

    n_values: int

    def n_steps(self, length: int | None = None) -> int:
        """D, the number of steps (``length`` for models of chosen length)."""

    def order(self, length: int | None = None) -> Tensor:
        """(D,) int64 position in the flat (B, D) vector generated at each step."""

    def start(self, batch: int, labels=None, length: int | None = None, method: str = "fast",
              known: Tensor | None = None) -> IncrementalState:
        """A fresh incremental state for ``batch`` sequences."""

    def log_prob(self, values: Tensor, labels=None) -> Tensor:
        """Exact teacher-forced log p(values (B, D)) in nats: (B,)."""


@dataclass(frozen=True)
class Step:
    """Step ``step`` set flat position ``position`` of every sequence.

    ``value`` (B,) int64; ``probs_before`` / ``probs_after`` (B, V) float32 the
    model's distribution and the one the strategy drew from; ``log_prob_so_far``
    (B,) float64 nats over the steps SAMPLED so far; ``sampled`` (B,) bool
    (False where the value was known).
    """

    step: int
    position: int
    value: np.ndarray
    probs_before: np.ndarray
    probs_after: np.ndarray
    log_prob_so_far: np.ndarray
    sampled: np.ndarray


@dataclass(frozen=True)
class Chunk:
    """Steps ``start`` .. ``start + n``: ``values`` (n, B) int64, ``log_probs`` (n, B) float64 model log p of
    each value, ``probs`` (ceil(n / prob_stride), B, V) float32 the model's distribution every ``prob_stride``
    steps, ``known`` (n, B) bool, ``log_prob_so_far`` (B,) float64 nats over sampled steps."""

    start: int
    values: np.ndarray
    log_probs: np.ndarray
    probs: np.ndarray
    prob_stride: int
    known: np.ndarray
    log_prob_so_far: np.ndarray


@dataclass(frozen=True)
class Done:
    """Finished: ``values`` (B, D) int64 in flat position order; ``log_prob`` (B,) exact log p(x) nats
    (teacher-forced when ``score``, else the chain-rule sum of every step); ``sampled_log_prob`` (B,)
    over the sampled steps only."""

    values: np.ndarray
    log_prob: np.ndarray
    sampled_log_prob: np.ndarray


# --------------------------------------------------------------------------- set-up


def resolve_strategy(strategy: Strategy | str | None) -> Strategy:
    """A Strategy from a Strategy, a name or None ("sample")."""
    strategy = make_strategy("sample") if strategy is None else strategy
    return make_strategy(strategy) if isinstance(strategy, str) else strategy


def known_values(known, mask, batch: int, steps: int, order: Tensor) -> tuple[Tensor, Tensor]:
    """Known values and mask (1 | B, D) in flat positions -> per STEP (B, D) long and (B, D) bool."""
    if known is None and mask is None:
        return torch.zeros(batch, steps, dtype=torch.long), torch.zeros(batch, steps, dtype=torch.bool)
    if known is None or mask is None:
        raise ConfigError("A completion needs both the known values and the mask saying which are known.")
    known_t = torch.as_tensor(np.asarray(known)).reshape(-1, steps)
    mask_t = torch.as_tensor(np.asarray(mask, dtype=bool)).reshape(-1, steps)
    if len(known_t) not in (1, batch) or len(mask_t) not in (1, batch):
        raise ConfigError(f"Pass one known sequence and mask, or {batch} of each (one per sequence).")
    return known_t.long().expand(batch, -1)[:, order], mask_t.expand(batch, -1)[:, order]


class _Run:
    """One generation in progress: state, strategy, generator, known values and the log p account."""

    def __init__(self, model, n: int, strategy, seed, generator, labels, known, mask, length, method):
        if int(n) < 1:
            raise ConfigError(f"The number of sequences must be at least 1, got {n}.")
        self.model, self.strategy = model, resolve_strategy(strategy)
        if self.strategy.is_beam:
            raise ConfigError("Beam search keeps several whole sequences; use beam_steps instead of the sampler.")
        self.gen = generator if generator is not None else make_generator(seed)
        self.steps, self.order = model.n_steps(length), model.order(length).long()
        self.known, self.mask = known_values(known, mask, int(n), self.steps, self.order)
        known_flat = None if known is None else torch.zeros(int(n), self.steps, dtype=torch.long)
        if known_flat is not None:
            known_flat[:, self.order] = torch.where(self.mask, self.known, 0)  # unknown positions: 0
        self.state = model.start(int(n), labels, length, method, known_flat)
        self.values = torch.zeros(int(n), self.steps, dtype=torch.long)
        self.sampled_lp = torch.zeros(int(n), dtype=torch.float64)
        self.all_lp = torch.zeros(int(n), dtype=torch.float64)

    def uniforms(self, n: int) -> Tensor:
        """(n, B) float64: one uniform per step per sequence, in step order."""
        return torch.rand(n, len(self.values), generator=self.gen, dtype=torch.float64,
                          device=self.gen.device).cpu()

    def record(self, t0: int, values: Tensor, log_probs: Tensor) -> None:
        """Values (n, B) and model log p (n, B) of steps t0 .. t0 + n into the account."""
        n = len(values)
        self.values[:, self.order[t0 : t0 + n]] = values.T.cpu()
        self.all_lp += log_probs.sum(0)
        self.sampled_lp += torch.where(self.mask[:, t0 : t0 + n].T, 0.0, log_probs).sum(0)

    def step(self, t: int) -> tuple[Step, Tensor]:
        """Run step t generically: logits, decision, known values copied, advance -> (event, model log p (B,))."""
        logits = self.state.logits()
        chosen, processed = self.strategy.decide(logits, self.uniforms(1)[0])
        known = self.mask[:, t].to(chosen.device)
        values = torch.where(known, self.known[:, t].to(chosen.device), chosen)
        lp = torch.log_softmax(logits.double(), -1).gather(1, values[:, None])[:, 0].cpu()
        self.state.advance(values)
        self.record(t, values[None], lp[None])
        return Step(t, int(self.order[t]), values.cpu().numpy(), torch.softmax(logits.float(), -1).cpu().numpy(),
                    torch.softmax(processed.float(), -1).cpu().numpy(), self.sampled_lp.numpy().copy(),
                    (~known).cpu().numpy()), lp

    def done(self, score: bool, labels) -> Done:
        exact = self.model.log_prob(self.values, labels).double().cpu() if score else self.all_lp
        return Done(self.values.numpy().copy(), exact.numpy().copy(), self.sampled_lp.numpy().copy())


def _labels_tensor(labels, n: int):
    return None if labels is None else torch.as_tensor(np.atleast_1d(labels)).long().reshape(-1).expand(n)


# --------------------------------------------------------------------------- the sampler


@torch.no_grad()
def sample_steps(model: Autoregressive, n: int = 1, *, strategy: Strategy | str | None = None,
                 seed: int | None = None, generator: torch.Generator | None = None, labels=None, known=None,
                 mask=None, length: int | None = None, method: str = "fast",
                 score: bool = True) -> Iterator[Step | Done]:
    """Generate ``n`` sequences; yield a :class:`Step` per step, then :class:`Done`.

    ``known`` (1 | n, D) values with ``mask`` (1 | n, D) bool (True = known),
    both in flat position order: a completion. ``score``: Done.log_prob from
    the teacher-forced ``model.log_prob`` (else the chain-rule sum).
    """
    run = _Run(model, n, strategy, seed, generator, labels, known, mask, length, method)
    for t in range(run.steps):
        yield run.step(t)[0]
    yield run.done(score, _labels_tensor(labels, int(n)))


@torch.no_grad()
def sample_chunks(model: Autoregressive, n: int = 1, *, chunk: int = 400, prob_stride: int = 16,
                  strategy: Strategy | str | None = None, seed: int | None = None,
                  generator: torch.Generator | None = None, labels=None, known=None, mask=None,
                  length: int | None = None, method: str = "fast", score: bool = False,
                  compiled: bool = True) -> Iterator[Chunk | Done]:
    """:func:`sample_steps` grouped in :class:`Chunk` events of ``chunk`` steps (audio), then :class:`Done`.

    With ``compiled`` and a state offering ``run_chunk``, each chunk is one
    call of that back end; else the generic steps, with the same values.
    """
    if chunk < 1 or prob_stride < 1:
        raise ConfigError("chunk and prob_stride must be positive.")
    run = _Run(model, n, strategy, seed, generator, labels, known, mask, length, method)
    fast = compiled and hasattr(run.state, "run_chunk")
    for t0 in range(0, run.steps, chunk):
        m = min(chunk, run.steps - t0)
        known_c, mask_c = run.known[:, t0 : t0 + m].T, run.mask[:, t0 : t0 + m].T
        if fast:
            values, log_probs, probs = run.state.run_chunk(m, run.strategy, run.uniforms(m), known_c, mask_c,
                                                           prob_stride)
            values, log_probs, probs = torch.as_tensor(values), torch.as_tensor(log_probs), np.asarray(probs)
            run.record(t0, values, log_probs)
        else:
            events, lps = zip(*(run.step(t) for t in range(t0, t0 + m)))
            values, log_probs = torch.as_tensor(np.stack([e.value for e in events])), torch.stack(lps)
            probs = np.stack([e.probs_before for e in events[::prob_stride]])
        yield Chunk(t0, values.numpy(), log_probs.double().numpy(), probs, prob_stride, mask_c.numpy(),
                    run.sampled_lp.numpy().copy())
    yield run.done(score, _labels_tensor(labels, int(n)))


def sample(model: Autoregressive, n: int = 1, **kwargs) -> Done:
    """Drain :func:`sample_steps` and return its :class:`Done` (the batch API)."""
    last = None
    for last in sample_steps(model, n, **kwargs):
        pass
    return last


# --------------------------------------------------------------------------- beam search


class PrefixScorer:
    """``step_logprobs(prefixes (n, t)) -> (n, V)`` for :func:`~engine.sampling.decoding.beam_search_steps`.

    Keeps one incremental state for the beams; each call finds every
    prefix's parent among the previous call's prefixes, reorders the state,
    advances it by the newest value and returns the next step's log-probs.
    """

    def __init__(self, model: Autoregressive, label=None, length: int | None = None, method: str = "fast"):
        labels = None if label is None else torch.tensor([int(label)])
        self.state = model.start(1, labels, length, method, None)
        self.prev = torch.zeros(1, 0, dtype=torch.long)

    def __call__(self, prefixes: Tensor) -> Tensor:
        t = prefixes.shape[1]
        if t:
            parents = (prefixes[:, None, : t - 1] == self.prev[None]).all(-1).float().argmax(1)
            self.state.reorder(parents)
            self.state.advance(prefixes[:, t - 1])
        self.prev = prefixes.clone()
        return torch.log_softmax(self.state.logits().double(), -1).cpu()


@torch.no_grad()
def beam_steps(model: Autoregressive, width: int, *, label=None, length: int | None = None,
               method: str = "fast") -> Iterator[BeamStep | Done]:
    """Beam search over the model's steps: a BeamStep per step (sequences in STEP order), then Done.

    Done holds the best ``width`` sequences (B', D) in flat position order,
    best first, with their exact teacher-forced log p (fewer only when fewer
    sequences exist).
    """
    steps, order = model.n_steps(length), model.order(length).long()
    last = None
    for last in beam_search_steps(PrefixScorer(model, label, length, method), steps, width):
        yield last
    values = torch.zeros(len(last.sequences), steps, dtype=torch.long)
    values[:, order] = torch.as_tensor(last.sequences)
    log_p = model.log_prob(values, _labels_tensor(label, len(values))).double().cpu().numpy()
    yield Done(values.numpy(), log_p, log_p.copy())


def drain(events: Iterator, kind: type = Done):
    """The last event of type ``kind`` from a generator of events."""
    out = None
    for event in events:
        if isinstance(event, kind):
            out = event
    return out


__all__ = ["Autoregressive", "Chunk", "Done", "IncrementalState", "PrefixScorer", "Step", "beam_steps", "drain",
           "known_values", "resolve_strategy", "sample", "sample_chunks", "sample_steps"]

