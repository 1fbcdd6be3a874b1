"""Generating audio sample by sample with a :class:`~engine.models.wavenet.WaveNet`.

:func:`generate_steps` yields an :class:`AudioChunk` every ``chunk`` samples
and a final :class:`AudioDone` (numpy only, never tensors). It is the generic
chunked sampler of :mod:`engine.sampling.autoregressive` over the model's
incremental states; three back ends, the same values for the same seed (one
float64 uniform per step from a ``torch.Generator`` seeded with ``seed``,
decoding only through :class:`~engine.sampling.decoding.Strategy`):

- ``"fast"`` on the CPU: the compiled queues (numba), whole chunks per call,
  decoding with the strategy's exported processor chain;
- ``"fast"`` elsewhere (CUDA, or no numba): the same queues in torch, batched over streams;
- ``"naive"``: a full forward pass over the last receptive field per sample,
  what most open implementations do.

:func:`generate_batch` runs B clips at once (the batched path for a GPU).

Priming: ``prime`` (P,) float audio is fed through the network (teacher
forced: known values of the generic sampler) before generation continues
from it; the chunks include it, marked by ``AudioChunk.primed``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from engine.data.sound import mu_law_decode, mu_law_encode
from engine.errors import ConfigError
from engine.models.wavenet import WaveNet, bits_per_sample
from engine.sampling import autoregressive as ar
from engine.sampling.decoding import Strategy

METHODS = ("fast", "naive")
MAX_SECONDS = 600.0


@dataclass(frozen=True)
class AudioChunk:
    """Samples ``start`` .. ``start + len(codes)`` of the clip.

    ``codes`` (n,) int64; ``audio`` (n,) float32 in [-1, 1]; ``log_prob`` (n,)
    float32 nats, the model's log p of each value (before the strategy);
    ``probs`` (ceil(n / prob_stride), Q) float32 the model's distribution every
    ``prob_stride`` steps; ``log_prob_so_far`` nats over generated samples;
    ``elapsed_s`` wall time since generation started; ``primed`` how many of
    these samples came from the priming clip.
    """

    start: int
    codes: np.ndarray
    audio: np.ndarray
    log_prob: np.ndarray
    probs: np.ndarray
    prob_stride: int
    log_prob_so_far: float
    elapsed_s: float
    primed: int = 0


@dataclass(frozen=True)
class AudioDone:
    """The whole clip: ``audio`` (T,) float32 at ``rate`` Hz, ``codes`` (T,), log p and bits per generated sample."""

    audio: np.ndarray
    codes: np.ndarray
    rate: int
    log_prob: float
    bits_per_sample: float
    seconds: float
    generated: int


def _strategy(strategy: Strategy | str | None) -> Strategy:
    strategy = ar.resolve_strategy(strategy)
    if strategy.is_beam:
        raise ConfigError("Beam search is not offered for audio: a beam over thousands of samples per second "
                          "collapses to silence; pick greedy, temperature, top-k, top-p or min-p.")
    return strategy


def _check_length(model: WaveNet, seconds: float) -> int:
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
        raise ConfigError(f"The length must be between 0 and {MAX_SECONDS:.0f} seconds, got {seconds!r}.")
    return max(1, int(round(seconds * model.sample_rate)))


@torch.no_grad()
def generate_batch(model: WaveNet, seconds: float, labels=None, *, batch: int | None = None,
                   strategy: Strategy | str | None = None, seed: int = 0, method: str = "fast") -> np.ndarray:
    """B clips at once on the model's device; ``labels`` (B,) for a conditional model (else ``batch``
    streams); returns codes (B, T). Uniforms: (B,) per step from one generator seeded with ``seed``."""
    strategy = _strategy(strategy)
    n_streams = len(np.atleast_1d(labels)) if labels is not None else int(batch or 1)
    total = _check_length(model, seconds)
    done = ar.drain(ar.sample_chunks(model, n_streams, chunk=4000, prob_stride=4000, strategy=strategy, seed=seed,
                                     labels=labels, length=total, method=method))
    return done.values


@torch.no_grad()
def generate_steps(model: WaveNet, seconds: float, *, strategy: Strategy | str | None = None, seed: int = 0,
                   label: int | None = None, prime: np.ndarray | None = None, method: str = "fast",
                   chunk: int = 400, prob_stride: int = 16) -> Iterator[AudioChunk | AudioDone]:
    """Generate ``seconds`` of audio (after the optional ``prime`` clip (P,)), yielding chunks as they are made."""
    strategy = _strategy(strategy)
    if method not in METHODS:
        raise ConfigError(f"Unknown generation method {method!r}; choose one of: {', '.join(METHODS)}.")
    model.check_label(label, 1)
    n_new = _check_length(model, seconds)
    primed = mu_law_encode(np.asarray(prime, np.float32), model.levels) if prime is not None else np.zeros(0, np.int64)
    total = len(primed) + n_new
    known = np.zeros((1, total), np.int64)
    known[0, : len(primed)] = primed
    mask = np.arange(total)[None] < len(primed)
    t_start = time.perf_counter()
    for event in ar.sample_chunks(model, 1, chunk=chunk, prob_stride=prob_stride, strategy=strategy, seed=seed,
                                  labels=label, known=known if len(primed) else None,
                                  mask=mask if len(primed) else None, length=total, method=method):
        elapsed = time.perf_counter() - t_start
        if isinstance(event, ar.Chunk):
            codes = event.values[:, 0]
            yield AudioChunk(event.start, codes, mu_law_decode(codes, model.levels),
                             event.log_probs[:, 0].astype(np.float32), event.probs[:, 0], prob_stride,
                             float(event.log_prob_so_far[0]), elapsed, int(event.known[:, 0].sum()))
        else:
            lp = float(event.sampled_log_prob[0])
            yield AudioDone(mu_law_decode(event.values[0], model.levels), event.values[0], model.sample_rate, lp,
                            float(bits_per_sample(-lp / n_new)), elapsed, n_new)


def generate(model: WaveNet, seconds: float, **kwargs) -> AudioDone:
    """Drain :func:`generate_steps` and return the finished clip."""
    return ar.drain(generate_steps(model, seconds, **kwargs), AudioDone)


def audio_samples(model: WaveNet, count: int, seed: int, seconds: float = 1.0) -> np.ndarray:
    """``count`` clips (count, T) float32 generated with the cached path; clip i asks for class i mod C."""
    clips = []
    for i in range(count):
        label = i % model.cond_classes if model.cond_classes else None
        clips.append(generate(model, seconds, seed=seed + i, label=label).audio)
    return np.stack(clips)


__all__ = ["AudioChunk", "AudioDone", "MAX_SECONDS", "METHODS", "audio_samples", "generate", "generate_batch",
           "generate_steps"]
