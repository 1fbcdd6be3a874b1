"""The Sampler tab's painting runs: 1 to 4 decoding strategies painting in lockstep, as one generator.

A run paints ``n`` images per strategy (beam search keeps ``beam_width``
images instead) from the same seed, so the panels of a comparison differ
only by their strategy. Every strategy's generator comes from
:mod:`engine.sampling.pixelcnn`; this module only advances them together:

- :class:`PaintTick` per pixel: ``events[p]`` is panel p's
  :class:`~engine.sampling.pixelcnn.PixelStep` or
  :class:`~engine.sampling.decoding.BeamStep` (None once that panel has finished);
- :class:`PaintFinished` at the end: each panel's images, exact log p(x),
  bits/dim and the per-pixel NLL map (one full forward pass per panel).

One tick is one pixel of every panel, so pausing or stepping a run moves
every panel by exactly one pixel.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.sampling.decoding import BeamStep, Strategy
from engine.errors import ConfigError
from engine.models.pixelcnn import PixelCNN
from engine.evaluation.lens import pixel_nll
from engine.sampling.pixelcnn import SampleDone, beam_search_images, sample_steps

MAX_PANELS = 4
MAX_IMAGES = 64


@dataclass(frozen=True)
class PaintTick:
    """One pixel of every panel: ``events[p]`` is a PixelStep, a BeamStep, or None (panel p has finished)."""

    events: tuple


@dataclass(frozen=True)
class PaintFinished:
    """Per panel p: ``images[p]`` (B_p, H, W) uint8 level values, ``log_probs[p]`` (B_p,) nats,
    ``bits_per_dim[p]`` (B_p,) and ``pixel_nll[p]`` (B_p, H, W) float32 nats per pixel."""

    images: tuple
    log_probs: tuple
    bits_per_dim: tuple
    pixel_nll: tuple


def check_run(model: PixelCNN, strategies: Sequence[Strategy], n: int, known=None, label: int | None = None) -> None:
    """Refuse a run the samplers cannot do, in one sentence (ConfigError)."""
    if not 1 <= len(strategies) <= MAX_PANELS:
        raise ConfigError(f"Compare 2 to {MAX_PANELS} strategies (got {len(strategies)}).")
    if not 1 <= int(n) <= MAX_IMAGES:
        raise ConfigError(f"Paint between 1 and {MAX_IMAGES} images at a time, got {n}.")
    if known is not None and any(s.is_beam for s in strategies):
        raise ConfigError("Beam search ranks whole images and cannot keep given pixels; "
                          "complete a digit with a sampling strategy.")
    if model.num_classes and label is None:
        raise ConfigError(f"This PixelCNN is class-conditional: choose a digit label 0-{model.num_classes - 1}.")
    if not model.num_classes and label is not None:
        raise ConfigError("This PixelCNN is not class-conditional; it takes no digit label.")
    if label is not None and not 0 <= int(label) < model.num_classes:
        raise ConfigError(f"The digit label must be between 0 and {model.num_classes - 1}, got {label}.")


def _panel_steps(model: PixelCNN, strategy: Strategy, n: int, seed: int, known, mask, label, method: str):
    if strategy.is_beam:
        return beam_search_images(model, strategy.beam_width, label=label)
    labels = None if label is None else [int(label)] * n
    return sample_steps(model, n, strategy=strategy, seed=seed, labels=labels, known=known, mask=mask,
                        method=method)


def paint_steps(model: PixelCNN, strategies: Sequence[Strategy], n: int = 1, *, seed: int = 0, known=None,
                mask=None, label: int | None = None, method: str = "fast") -> Iterator[PaintTick | PaintFinished]:
    """Paint ``n`` images under each strategy from the same ``seed``; yield a PaintTick per pixel, then PaintFinished.

    ``known`` (H, W) level values with ``mask`` (H, W) bool (True = keep): a
    completion, the same for every panel and image. ``label``: the digit
    of a class-conditional model.
    """
    check_run(model, strategies, n, known, label)
    gens = [_panel_steps(model, s, int(n), int(seed), known, mask, label, method) for s in strategies]
    done: list[SampleDone | None] = [None] * len(gens)
    try:
        while not all(d is not None for d in done):
            events = []
            for p, gen in enumerate(gens):
                event = None if done[p] is not None else next(gen)
                if isinstance(event, SampleDone):
                    done[p], event = event, None
                events.append(event)
            if any(e is not None for e in events):
                yield PaintTick(tuple(events))
    finally:
        for gen in gens:
            gen.close()
    yield _finished(model, done, label)


def _finished(model: PixelCNN, done: list[SampleDone], label: int | None) -> PaintFinished:
    maps = []
    for d in done:
        labels = None if label is None else torch.full((len(d.image),), int(label))
        maps.append(pixel_nll(model, d.image, labels))
    return PaintFinished(tuple(d.image for d in done), tuple(np.asarray(d.log_prob) for d in done),
                         tuple(np.asarray(d.bits_per_dim) for d in done), tuple(maps))


__all__ = ["MAX_IMAGES", "MAX_PANELS", "BeamStep", "PaintFinished", "PaintTick", "check_run", "paint_steps"]
