"""Painting images pixel by pixel with a :class:`~engine.models.pixelcnn.PixelCNN`.

Every entry point is a generator of events (numpy only, never tensors):
:class:`PixelStep` per painted pixel and a final :class:`SampleDone`;
beam search yields :class:`~engine.sampling.decoding.BeamStep` per pixel and a final
:class:`SampleDone`. Decoding (temperature, top-k, top-p, min-p, greedy,
beam) comes from :mod:`engine.sampling.decoding`; nothing here is model-specific
decoding logic.

Everything runs through the generic sampler of
:mod:`engine.sampling.autoregressive` (the model implements its protocol);
this module only turns its events into pixel events. Two back ends, same
events, same images for the same seed:

- ``method="naive"``: one full forward pass over the H x W image per pixel;
- ``method="fast"``: :class:`~engine.models.pixelcnn.RowCache` — the
  vertical stack once per row, the horizontal stack on the 1 x W current
  row per pixel.

Completion: pass ``known`` level values and a ``mask`` (True = known); known
pixels are copied, never sampled or changed. A raster-order model only
conditions on known pixels that come EARLIER in raster order (rows above,
pixels to the left), so "top half known" is a true conditional sample while
known pixels below the first unknown one are kept but not looked at.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from engine.errors import ConfigError
from engine.models.pixelcnn import PixelCNN, bits_per_dim
from engine.sampling import autoregressive as ar
from engine.sampling.decoding import BeamStep, Strategy

METHODS = ("fast", "naive")
MASK_KINDS = ("top", "bottom", "left", "right")
PixelPrefixScorer = ar.PrefixScorer  # the generic beam scorer; PixelPrefixScorer(model, label) as before


@dataclass(frozen=True)
class PixelStep:
    """Pixel (row, col) painted in each of the B images.

    ``value`` (B,) int64 level values; ``probs_before`` / ``probs_after``
    (B, V) float32 the model's distribution and the one the strategy drew
    from (what top-p cut away is their difference); ``log_prob_so_far`` (B,)
    float64 nats: sum of log p(value) over the pixels SAMPLED so far (known
    pixels of a completion are not counted).
    """

    row: int
    col: int
    value: np.ndarray
    probs_before: np.ndarray
    probs_after: np.ndarray
    log_prob_so_far: np.ndarray


@dataclass(frozen=True)
class SampleDone:
    """Finished images (B, H, W) uint8 level values, exact log p(image) (B,) nats and its bits/dim (B,)."""

    image: np.ndarray
    log_prob: np.ndarray
    bits_per_dim: np.ndarray


def completion_mask(kind: str, height: int = 28, width: int = 28) -> np.ndarray:
    """Known-pixel mask (H, W) bool for "top", "bottom", "left" or "right" half known."""
    mask = np.zeros((height, width), dtype=bool)
    if kind == "top":
        mask[: height // 2] = True
    elif kind == "bottom":
        mask[height // 2 :] = True
    elif kind == "left":
        mask[:, : width // 2] = True
    elif kind == "right":
        mask[:, width // 2 :] = True
    else:
        raise ConfigError(f"Unknown completion mask {kind!r}; use one of: {', '.join(MASK_KINDS)}, or draw one.")
    return mask


def _flat_known(model: PixelCNN, known, mask) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Known level values and mask (1 | n, H, W) -> (1 | n, H*W), checked; (None, None) for no completion."""
    if known is None and mask is None:
        return None, None
    if known is None or mask is None:
        raise ConfigError("A completion needs both the known pixels and the mask saying which pixels are known.")
    known = np.asarray(known, dtype=np.float64).reshape(-1, model.height * model.width)
    if known.min() < 0 or known.max() > model.levels - 1 or not np.array_equal(known, known.round()):
        raise ConfigError(f"Known pixels must be whole level values 0..{model.levels - 1}.")
    return known.astype(np.int64), np.asarray(mask, dtype=bool).reshape(-1, model.height * model.width)


def _done(model: PixelCNN, done: ar.Done) -> SampleDone:
    image = done.values.reshape(-1, model.height, model.width).astype(np.uint8)
    return SampleDone(image, done.log_prob, np.asarray(bits_per_dim(-done.log_prob, model.height * model.width)))


@torch.no_grad()
def sample_steps(model: PixelCNN, n: int = 1, *, strategy: Strategy | str | None = None, seed: int | None = None,
                 generator: torch.Generator | None = None, labels=None, known=None, mask=None,
                 method: str = "fast") -> Iterator[PixelStep | SampleDone]:
    """Paint ``n`` images in raster order; yield a :class:`PixelStep` per pixel, then :class:`SampleDone`.

    ``strategy``: a :class:`~engine.sampling.decoding.Strategy` or a name (default
    "sample", the model's own distribution). Randomness comes only from
    ``generator`` (or a new one seeded with ``seed``). ``labels`` (n,) for a
    class-conditional model. ``known`` (1 | n, H, W) level values with
    ``mask`` (1 | n, H, W) bool, True = known: a completion (pixels known in
    every image yield no PixelStep). ``method`` "fast" (row cache) or
    "naive" (full pass per pixel) give the same images.
    """
    if method not in METHODS:
        raise ConfigError(f"Unknown sampling method {method!r}; use 'fast' or 'naive'.")
    if isinstance(strategy, Strategy) and strategy.is_beam or strategy == "beam":
        raise ConfigError("Beam search keeps several whole images; use beam_search_images instead of the sampler.")
    model.eval()
    known, mask = _flat_known(model, known, mask)
    for event in ar.sample_steps(model, n, strategy=strategy, seed=seed, generator=generator, labels=labels,
                                 known=known, mask=mask, method=method):
        if isinstance(event, ar.Done):
            yield _done(model, event)
        elif event.sampled.any():
            r, c = divmod(event.position, model.width)
            yield PixelStep(r, c, event.value, event.probs_before, event.probs_after, event.log_prob_so_far)


def sample(model: PixelCNN, n: int = 1, **kwargs) -> SampleDone:
    """Drain :func:`sample_steps` and return its :class:`SampleDone` (the batch API)."""
    return ar.drain(sample_steps(model, n, **kwargs), SampleDone)


def complete_steps(model: PixelCNN, known, mask, n: int = 1, **kwargs) -> Iterator[PixelStep | SampleDone]:
    """Sample the unknown pixels of ``known`` (mask True = known); see :func:`sample_steps`."""
    if isinstance(mask, str):
        mask = completion_mask(mask, model.height, model.width)
    return sample_steps(model, n, known=known, mask=mask, **kwargs)


def image_samples(model: PixelCNN, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` images (n, H, W) float in [0, 1] from the fast sampler (what a training run saves as samples)."""
    done = sample(model, n, generator=generator)
    return torch.from_numpy(done.image).float() / (model.levels - 1)


@torch.no_grad()
def beam_search_images(model: PixelCNN, width: int, *, label: int | None = None) -> Iterator[BeamStep | SampleDone]:
    """Beam search over the raster sequence: a BeamStep per pixel, then SampleDone of the best ``width`` images.

    The images are sorted by log p(image), best first (fewer than ``width``
    only when fewer sequences exist).
    """
    model.eval()
    for event in ar.beam_steps(model, width, label=label):
        yield _done(model, event) if isinstance(event, ar.Done) else event


__all__ = ["METHODS", "PixelPrefixScorer", "PixelStep", "SampleDone", "beam_search_images", "complete_steps",
           "completion_mask", "image_samples", "sample", "sample_steps"]
