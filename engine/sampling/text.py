"""Text from a character model through the one autoregressive sampler: a prompt is a completion whose known
values are the prompt's characters (they are fed, never sampled, and do not count in the sampled log p)."""

from __future__ import annotations

import numpy as np

from engine.device import make_generator, torch_threads
from engine.models.transformer import prompt_completion
from engine.sampling import autoregressive as ar
from engine.sampling.decoding import Strategy


def text_events(model, prompt: str, new_chars: int, *, strategy: Strategy | str | None = None, n: int = 1,
                seed: int | None = None, generator=None, method: str = "fast"):
    """:func:`~engine.sampling.autoregressive.sample_steps` over ``prompt`` + ``new_chars`` characters: a Step per
    character (the prompt's first, with ``sampled`` False), then Done (values (n, L) in text order)."""
    known, mask, length = prompt_completion(model, prompt, new_chars)
    return ar.sample_steps(model, n, strategy=strategy, seed=seed, generator=generator, known=known, mask=mask,
                           length=length, method=method, score=False)


def generate_text(model, prompt: str, new_chars: int, **kwargs) -> list[str]:
    """The ``n`` texts (prompt included) :func:`text_events` ends with."""
    done = ar.drain(text_events(model, prompt, new_chars, **kwargs))
    return [model.decode(row) for row in done.values]


def text_samples(model, count: int, seed: int, new_chars: int = 240, prompt: str = "") -> np.ndarray:
    """(count,) str: paragraphs from ``prompt`` with a generator seeded by ``seed`` (the same draws every time)."""
    with torch_threads(1):
        texts = generate_text(model, prompt, new_chars, n=count, generator=make_generator(seed))
    return np.array(texts, dtype=str)


__all__ = ["generate_text", "text_events", "text_samples"]
