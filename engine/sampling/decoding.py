"""Decoding strategies shared by every autoregressive model (PixelCNN now, WaveNet later).

Three parts, kept apart (the pattern of transformers' ``logits_process``):

- processors: small frozen callables ``logits (B, V) -> logits (B, V)`` that
  validate their settings when built and never modify their input
  (:class:`Temperature`, :class:`TopK`, :class:`TopP`, :class:`MinP`);
  removed values get logit -inf;
- selectors: :func:`greedy` (argmax, no randomness) and :func:`multinomial`
  (inverse-CDF draw, one uniform per row from an explicit ``torch.Generator``);
  :meth:`Strategy.decide` applies the chain and the selector to given
  uniforms (B,) float64, the one randomness convention of every sampler;
- :meth:`Strategy.chain`: the processors as rows (op code, parameter) in
  order (``OP_TEMPERATURE``, ``OP_TOP_K``, ``OP_TOP_P``, ``OP_MIN_P``), what
  a compiled kernel applies with the same semantics (tested identical);
- :class:`Strategy` (processors + selector) built by :func:`make_strategy`,
  which turns bad settings into one :class:`~engine.errors.ConfigError`
  sentence fit for a GUI panel or the CLI; and :func:`beam_search_steps`,
  its own loop over log-probabilities around a ``step_logprobs(prefixes)``.

Binary outputs (one Bernoulli logit l) are the 2-way categorical [0, l]
(:func:`bernoulli_as_categorical`) so every processor applies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from engine.errors import ConfigError

STRATEGY_NAMES = ("sample", "greedy", "temperature", "top-k", "top-p", "min-p", "beam")
_NEG_INF = float("-inf")
OP_TEMPERATURE, OP_TOP_K, OP_TOP_P, OP_MIN_P = 0, 1, 2, 3


def bernoulli_as_categorical(logit: Tensor) -> Tensor:
    """Bernoulli logits (...,) -> 2-way categorical logits (..., 2) = [0, logit]."""
    return torch.stack([torch.zeros_like(logit), logit], dim=-1)


def _number(value, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}.") from None
    if not math.isfinite(out):
        raise ConfigError(f"{name} must be a finite number, got {value!r}.")
    return out


def _whole(value, name: str) -> int:
    if isinstance(value, bool) or not _number(value, name).is_integer():
        raise ConfigError(f"{name} must be a whole number, got {value!r}.")
    return int(float(value))


def _set_fraction(proc, name: str, meaning: str) -> None:
    """Validate ``proc.p`` in (0, 1] and store it as a float (frozen dataclass)."""
    p = _number(proc.p, name)
    _store(proc, "p", p, 0 < p <= 1, f"{name} must be in (0, 1] ({meaning}), got {proc.p}.")


def _store(proc, attr: str, value, valid: bool, refusal: str) -> None:
    """Store the checked ``value`` on the frozen processor, or raise ConfigError(``refusal``)."""
    if not valid:
        raise ConfigError(refusal)
    object.__setattr__(proc, attr, value)


# --------------------------------------------------------------------------- processors


@dataclass(frozen=True)
class Temperature:
    """Divide logits by ``t`` > 0; ``t == 0`` keeps only the argmax (greedy)."""

    t: float
    op = OP_TEMPERATURE  # the kernels' op code (see Strategy.chain)

    def __post_init__(self):
        t = _number(self.t, "Temperature")
        _store(self, "t", t, t >= 0, f"Temperature must be 0 (greedy) or positive, got {self.t}.")

    def __call__(self, logits: Tensor) -> Tensor:
        if self.t == 0:
            keep = torch.zeros_like(logits, dtype=torch.bool).scatter_(-1, logits.argmax(-1, keepdim=True), True)
            return logits.masked_fill(~keep, _NEG_INF)
        return logits / self.t


@dataclass(frozen=True)
class TopK:
    """Keep exactly the ``k`` largest logits per row (ties broken by index); ``k`` >= 1."""

    k: int
    op = OP_TOP_K  # the kernels' op code (see Strategy.chain)

    def __post_init__(self):
        k = _whole(self.k, "top-k")
        _store(self, "k", k, k >= 1, f"top-k must keep at least 1 value, got {self.k}.")

    def __call__(self, logits: Tensor) -> Tensor:
        if self.k >= logits.shape[-1]:
            return logits.clone()
        order = torch.sort(logits, dim=-1, descending=True, stable=True).indices[..., : self.k]
        keep = torch.zeros_like(logits, dtype=torch.bool).scatter_(-1, order, True)
        return logits.masked_fill(~keep, _NEG_INF)


@dataclass(frozen=True)
class TopP:
    """Nucleus: keep the smallest set of most probable values whose mass is >= ``p``, p in (0, 1]."""

    p: float
    op = OP_TOP_P  # the kernels' op code (see Strategy.chain)

    def __post_init__(self):
        _set_fraction(self, "top-p", "the probability mass kept")

    def __call__(self, logits: Tensor) -> Tensor:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
        probs = torch.softmax(sorted_logits.double(), dim=-1)
        mass_before = probs.cumsum(-1) - probs  # mass of the values ranked above each one
        keep_sorted = mass_before < self.p
        keep_sorted[..., 0] = True
        keep = torch.zeros_like(keep_sorted).scatter_(-1, order, keep_sorted)
        return logits.masked_fill(~keep, _NEG_INF)


@dataclass(frozen=True)
class MinP:
    """Keep values whose probability is >= ``p`` times the largest probability, p in (0, 1]."""

    p: float
    op = OP_MIN_P  # the kernels' op code (see Strategy.chain)

    def __post_init__(self):
        _set_fraction(self, "min-p", "a fraction of the top probability")

    def __call__(self, logits: Tensor) -> Tensor:
        log_probs = torch.log_softmax(logits.double(), dim=-1)
        threshold = log_probs.max(-1, keepdim=True).values + math.log(self.p)
        return logits.masked_fill(log_probs < threshold, _NEG_INF)


# --------------------------------------------------------------------------- selectors


def greedy(logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Argmax per row: (B, V) -> (B,) long; the generator is ignored (greedy has no randomness)."""
    return logits.argmax(-1)


def multinomial(logits: Tensor, generator: torch.Generator | None) -> Tensor:
    """One draw per row from softmax(logits): (B, V) -> (B,) long.

    Inverse CDF in float64 with one uniform per row from ``generator``, so a
    value of probability 0 (logit -inf) is never drawn and the same
    generator state gives the same draw.
    """
    gen_device = generator.device if generator is not None else logits.device
    u = torch.rand(len(logits), 1, generator=generator, device=gen_device, dtype=torch.float64).to(logits.device)
    return inverse_cdf(logits, u)


def inverse_cdf(logits: Tensor, u: Tensor) -> Tensor:
    """The value at quantile ``u`` (B, 1) float64 of softmax(logits (B, V)): (B,) long; never one of probability 0."""
    probs = torch.softmax(logits.double(), dim=-1)
    cdf = probs.cumsum(-1)
    idx = (cdf <= u * cdf[:, -1:]).sum(-1)
    last_possible = (probs > 0).long().cumsum(-1).argmax(-1)  # the last value with probability > 0
    return torch.minimum(idx, last_possible)


# --------------------------------------------------------------------------- strategies


@dataclass(frozen=True)
class Strategy:
    """Processors applied in order, then a selector ("greedy" or "sample"); or beam search (``beam_width``)."""

    name: str
    processors: tuple = ()
    selector: str = "sample"
    beam_width: int = 0

    @property
    def is_beam(self) -> bool:
        return self.beam_width > 0

    def process(self, logits: Tensor) -> Tensor:
        """Processed logits (B, V); the input is never modified."""
        for proc in self.processors:
            logits = proc(logits)
        return logits

    def chain(self) -> tuple[np.ndarray, bool]:
        """(rows (P, 2) float64 of (op code, parameter) in application order, greedy?) for a compiled kernel."""
        if self.is_beam:
            raise ConfigError("Beam search ranks whole sequences; it has no per-step processor chain.")
        rows = np.array([(p.op, float(getattr(p, "k", getattr(p, "p", getattr(p, "t", 0))))) for p in self.processors],
                        np.float64).reshape(-1, 2)
        return rows, self.selector == "greedy"

    def decide(self, logits: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        """Logits (B, V) and uniforms u (B,) float64 -> (values (B,) long, processed logits (B, V) float64).

        The chain runs in float64; greedy takes the first argmax and ignores ``u``.
        """
        if self.is_beam:
            raise ConfigError("Beam search ranks whole sequences; run it with the beam-search sampler, not step by step.")
        processed = self.process(logits.double())
        if self.selector == "greedy":
            return greedy(processed), processed
        return inverse_cdf(processed, u.reshape(-1, 1).to(processed.device, torch.float64)), processed

    def choose(self, logits: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor, Tensor]:
        """Logits (B, V) -> (values (B,), probs before (B, V), probs after processing (B, V)); one uniform per row."""
        gen_device = generator.device if generator is not None else logits.device
        u = torch.rand(len(logits), generator=generator, device=gen_device, dtype=torch.float64)
        values, processed = self.decide(logits, u)
        return values, torch.softmax(logits.float(), -1), torch.softmax(processed.float(), -1)

    def describe(self) -> str:
        """A short label, e.g. 'top-p 0.9, T 0.8'."""
        if self.is_beam:
            return f"beam search, width {self.beam_width}"
        parts = [type(p).__name__ for p in self.processors]
        return self.name + (f" ({', '.join(repr(p) for p in self.processors)})" if parts else "")


def _refuse_extra(name: str, given: dict, allowed: set[str]) -> None:
    extra = sorted(k for k, v in given.items() if v is not None and k not in allowed)
    if extra:
        opts = ", ".join(k.replace("_", "-") for k in extra)
        raise ConfigError(f"The {name} strategy does not use {opts}; leave it out or pick the matching strategy.")


def make_strategy(name: str, *, temperature: float | None = None, top_k: int | None = None,
                  top_p: float | None = None, min_p: float | None = None, beam_width: int | None = None) -> Strategy:
    """Build and validate a decoding strategy from a name and its settings.

    Names: "sample" (ancestral, optional temperature), "greedy", "temperature"
    (needs temperature; 0 means greedy), "top-k" (top_k), "top-p" (top_p),
    "min-p" (min_p), "beam" (beam_width). The sampling strategies accept a
    temperature, applied before the filter. Settings a strategy does not use
    are refused so a typo never silently does nothing.
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in STRATEGY_NAMES:
        raise ConfigError(f"Unknown decoding strategy {name!r}; choose one of: {', '.join(STRATEGY_NAMES)}.")
    given = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "min_p": min_p, "beam_width": beam_width}
    filters = {"top-k": ("top_k", TopK), "top-p": ("top_p", TopP), "min-p": ("min_p", MinP)}
    if key in ("greedy", "beam"):
        _refuse_extra(key, given, {"beam_width"} if key == "beam" else set())
        if key == "greedy":
            return Strategy("greedy", (), "greedy")
        return Strategy("beam", (), "greedy", _beam_width(beam_width))
    allowed = {"temperature"} | ({filters[key][0]} if key in filters else set())
    _refuse_extra(key, given, allowed)
    if key == "temperature" and temperature is None:
        raise ConfigError("The temperature strategy needs a temperature (0 means greedy, 1 the model's distribution).")
    processors: list = [Temperature(temperature)] if temperature is not None else []
    if key in filters:
        param, cls = filters[key]
        if given[param] is None:
            raise ConfigError(f"The {key} strategy needs its {key} value.")
        processors.append(cls(given[param]))
    return Strategy(key, tuple(processors), "sample")


def _beam_width(width) -> int:
    if width is None:
        raise ConfigError("Beam search needs a beam width (how many sequences to keep), e.g. 4.")
    if _whole(width, "The beam width") < 1:
        raise ConfigError(f"The beam width must be at least 1, got {width!r}.")
    return int(float(width))


# --------------------------------------------------------------------------- beam search


@dataclass(frozen=True)
class BeamStep:
    """Beam after ``length`` tokens: sequences (n, length) int64 and their log-probs (n,), best first."""

    length: int
    sequences: object
    log_probs: object


def beam_search_steps(step_logprobs: Callable[[Tensor], Tensor], length: int, width: int,
                      processors: tuple = ()) -> Iterator[BeamStep]:
    """Beam search over sequences of ``length`` tokens; yields a :class:`BeamStep` per token.

    ``step_logprobs(prefixes (n, t) long) -> (n, V)`` gives log p(next | prefix)
    (any normalised or unnormalised scores; they are log-softmaxed after the
    optional ``processors``). Each step keeps the ``width`` best extensions
    (ties: lower beam, then lower token first); candidates of probability 0
    are dropped. With ``width`` >= V**length nothing is pruned: the result
    is every sequence, sorted by probability.
    """
    width = _beam_width(width)
    prefixes = torch.zeros(1, 0, dtype=torch.long)
    scores = torch.zeros(1, dtype=torch.float64)
    for t in range(length):
        logits = step_logprobs(prefixes)
        for proc in processors:
            logits = proc(logits)
        cand = scores[:, None].to(logits.device) + torch.log_softmax(logits.double(), -1)
        flat = cand.flatten()
        order = torch.sort(flat, descending=True, stable=True).indices
        order = order[torch.isfinite(flat[order])][:width]
        vocab = cand.shape[1]
        parents, tokens = (order // vocab).cpu(), (order % vocab).cpu()
        prefixes = torch.cat([prefixes[parents], tokens[:, None]], dim=1)
        scores = flat[order].cpu()
        yield BeamStep(t + 1, prefixes.numpy().copy(), scores.numpy().copy())


def beam_search(step_logprobs: Callable[[Tensor], Tensor], length: int, width: int,
                processors: tuple = ()) -> tuple[Tensor, Tensor]:
    """Drain :func:`beam_search_steps`: (sequences (n, length) long, log-probs (n,) float64), best first."""
    last = None
    for last in beam_search_steps(step_logprobs, length, width, processors):
        pass
    if last is None:
        return torch.zeros(1, 0, dtype=torch.long), torch.zeros(1, dtype=torch.float64)
    return torch.as_tensor(last.sequences), torch.as_tensor(last.log_probs)


__all__ = ["BeamStep", "MinP", "OP_MIN_P", "OP_TEMPERATURE", "OP_TOP_K", "OP_TOP_P", "STRATEGY_NAMES", "Strategy", "Temperature", "TopK", "TopP", "beam_search",
           "beam_search_steps", "bernoulli_as_categorical", "greedy", "make_strategy", "multinomial"]
