"""The Sampler's text runs: 1 to 4 decoding strategies writing after one prompt, in lockstep, as one generator.

Every sampling panel is :func:`engine.sampling.text.text_events` (the one
autoregressive sampler) from the same seed, so the panels of a comparison
differ only by their strategy; a beam panel is beam search over the
characters after the prompt (:func:`beam_text_steps`). This module only
advances them together and reads, for each sampled character, the
attention the model computed for it (the state's, no second pass):

- :class:`TextTick` per generated character: ``events[p]`` is panel p's
  tuple of :class:`CharStep` (the FIRST tick also holds the prompt's
  characters, fed before it, so one tick is one new character) or a
  :class:`~engine.sampling.decoding.BeamStep` (None once finished);
- :class:`TextFinished` at the end: each panel's text and the exact
  log p of every character (one teacher-forced pass, in windows).

Shapes: ``V`` vocabulary size, ``H`` heads, ``m`` inputs in the window.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.errors import ConfigError
from engine.evaluation.text_eval import char_surprisal
from engine.models.transformer import window_start
from engine.sampling.autoregressive import Done, PrefixScorer, Step
from engine.sampling.decoding import BeamStep, Strategy, beam_search_steps
from engine.sampling.text import text_events

MAX_PANELS = 4
MAX_NEW_CHARS = 2000


@dataclass(frozen=True)
class CharStep:
    """Character ``index`` of the text (0 = the first after BOS) is ``value``.

    ``probs_before`` / ``probs_after`` (V,) float32: the model's distribution and the one the strategy drew
    from; ``log_prob`` its model log p (nats); ``sampled`` False for a prompt character;
    ``log_prob_so_far`` nats over the sampled characters so far; ``attention``: one (H, m) float16 array per
    layer, the attention of the input that predicted it over inputs ``window`` .. ``index`` (input 0 is BOS,
    input j >= 1 is character j - 1); None for a prompt character more than a context before the prompt's end
    (a long pasted prompt would hold megabytes of them; :func:`attention_at` reads one when asked).
    """

    index: int
    value: int
    probs_before: np.ndarray
    probs_after: np.ndarray
    log_prob: float
    sampled: bool
    log_prob_so_far: float
    attention: tuple
    window: int


@dataclass(frozen=True)
class TextTick:
    """One new character of every panel: ``events[p]`` a tuple of CharStep, a BeamStep, or None (finished)."""

    events: tuple


@dataclass(frozen=True)
class TextFinished:
    """Per panel p: ``values[p]`` (L_p,) int64 the whole text (prompt first), ``char_nats[p]`` (L_p,) float64
    −log p of each character (exact, teacher forced), ``prompt`` the prompt's length."""

    values: tuple
    char_nats: tuple
    prompt: int

    def generated_nats(self, p: int) -> float:
        """−log p of panel p's characters after the prompt, nats."""
        return float(self.char_nats[p][self.prompt :].sum())


class _Watched:
    """The model, but ``start`` keeps the state so the attention of each step can be read (see :class:`_Seen`)."""

    def __init__(self, model) -> None:
        self.model, self.state = model, None

    def __getattr__(self, name):
        return getattr(self.model, name)

    def start(self, *args, **kwargs):
        self.state = _Seen(self.model.start(*args, **kwargs))
        return self.state


class _Seen:
    """A TextState whose ``logits()`` notes the attention and window that gave them (before ``advance``)."""

    def __init__(self, state) -> None:
        self.state, self.attention, self.window = state, [], 0

    def logits(self):
        self.attention, self.window = self.state.attention, self.state.window
        return self.state.logits()

    def advance(self, values) -> None:
        self.state.advance(values)

    def reorder(self, index) -> None:
        self.state.reorder(index)


def check_text_run(model, prompt: str, new_chars: int, strategies: Sequence[Strategy]) -> None:
    """Refuse a run the samplers cannot do, in one sentence (ConfigError); an unknown prompt character is named."""
    if not 1 <= len(strategies) <= MAX_PANELS:
        raise ConfigError(f"Compare 2 to {MAX_PANELS} strategies (got {len(strategies)}).")
    if not 1 <= int(new_chars) <= MAX_NEW_CHARS:
        raise ConfigError(f"Write between 1 and {MAX_NEW_CHARS} characters at a time, got {new_chars}.")
    model.encode(prompt)


def prompt_note(model, prompt: str) -> str:
    """A sentence when ``prompt`` is longer than the model's context (else "")."""
    c = model.context
    if len(prompt) + 1 <= c:
        return ""
    return (f"The prompt ({len(prompt):,} characters) is longer than the model's context of {c}: it reads the "
            f"prompt in windows of {c} inputs moving on by {c // 2}, and each new character is predicted from only "
            f"the last {c // 2 + 1} to {c} characters before it.")


def _char_steps(model, prompt: str, new_chars: int, strategy: Strategy, seed: int, method: str) -> Iterator:
    """One sampling panel: a tuple of CharStep per generated character (the first tuple holds the prompt too)."""
    watched = _Watched(model)
    pending: list[CharStep] = []
    for event in text_events(watched, prompt, new_chars, strategy=strategy, n=1, seed=seed, method=method):
        if isinstance(event, Done):
            return
        seen = watched.state
        before = float(event.probs_before[0, event.value[0]])
        keep = event.step >= len(prompt) - model.context  # a long prompt's early attention is not kept (memory)
        maps = tuple(a[0].float().numpy().astype(np.float16) for a in seen.attention) if keep else None
        pending.append(CharStep(event.step, int(event.value[0]), event.probs_before[0], event.probs_after[0],
                                float(np.log(max(before, 1e-30))), bool(event.sampled[0]),
                                float(event.log_prob_so_far[0]), maps, seen.window))
        if isinstance(event, Step) and event.sampled[0]:
            yield tuple(pending)
            pending = []


def beam_text_steps(model, prompt: str, new_chars: int, width: int, method: str = "fast") -> Iterator[BeamStep]:
    """Beam search over ``new_chars`` characters after ``prompt``: a BeamStep per character (sequences (k, t) of
    the characters after the prompt, best first, log p of those characters given the prompt)."""
    scorer = PrefixScorer(model, None, None, method)
    for value in model.encode(prompt).tolist():
        scorer.state.advance(torch.tensor([value]))
    yield from beam_search_steps(scorer, int(new_chars), width)


def _panel(model, prompt, new_chars, strategy: Strategy, seed: int, method: str) -> Iterator:
    if strategy.is_beam:
        return beam_text_steps(model, prompt, new_chars, strategy.beam_width, method)
    return _char_steps(model, prompt, new_chars, strategy, seed, method)


@torch.no_grad()
def text_steps(model, prompt: str, new_chars: int, strategies: Sequence[Strategy], *, seed: int = 0,
               method: str = "fast") -> Iterator[TextTick | TextFinished]:
    """Write ``new_chars`` characters after ``prompt`` under each strategy from the same ``seed``; yield a
    TextTick per character, then TextFinished."""
    check_text_run(model, prompt, new_chars, strategies)
    ids = model.encode(prompt)
    gens = [_panel(model, prompt, new_chars, s, int(seed), method) for s in strategies]
    made: list[list[int]] = [[] for _ in gens]  # each panel's characters after the prompt
    live = [True] * len(gens)
    try:
        while any(live):
            events = []
            for p, gen in enumerate(gens):
                event = next(gen, None) if live[p] else None
                live[p] = event is not None
                _collect(made[p], event)
                events.append(event)
            if any(live):
                yield TextTick(tuple(events))
    finally:
        for gen in gens:
            gen.close()
    texts = [torch.cat([ids, torch.tensor(m, dtype=torch.long)]) for m in made]
    yield TextFinished(tuple(t.numpy() for t in texts), tuple(char_surprisal(model, model.decode(t)) for t in texts),
                       len(ids))


def _collect(made: list[int], event) -> None:
    """Keep a panel's characters after the prompt up to date: the best beam, or the sampled ones appended."""
    if isinstance(event, BeamStep):
        made[:] = [int(v) for v in event.sequences[0]]
    elif event is not None:
        made.extend(s.value for s in event if s.sampled)


def attention_at(model, values, index: int) -> tuple[tuple, int]:
    """The attention that predicted character ``index`` of ``values`` (L,): one (H, m) float16 array per layer
    over inputs ``window`` .. ``index`` (input 0 is BOS), and ``window`` (one forward pass over the window)."""
    values = torch.as_tensor(np.asarray(values), dtype=torch.long)
    inputs = torch.cat([torch.tensor([model.bos]), values[:index]])
    start = window_start(index, model.context)
    with torch.no_grad():
        _, maps = model(inputs[None, start : index + 1], attention=True)
    return tuple(m[0, :, -1].float().numpy().astype(np.float16) for m in maps), start


__all__ = ["CharStep", "MAX_NEW_CHARS", "MAX_PANELS", "TextFinished", "TextTick", "attention_at",
           "beam_text_steps", "check_text_run", "prompt_note", "text_steps"]
