"""Painting images pixel by pixel with a :class:`~engine.models.pixelcnn.PixelCNN`.

Every entry point is a generator of events (numpy only, never tensors):
:class:`PixelStep` per painted pixel and a final :class:`SampleDone`;
beam search yields :class:`~engine.sampling.decoding.BeamStep` per pixel and a final
:class:`SampleDone`. Decoding (temperature, top-k, top-p, min-p, greedy,
beam) comes from :mod:`engine.sampling.decoding`; nothing here is model-specific
decoding logic.

Two samplers, same events, same images for the same seed:

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
from torch import Tensor

from engine.sampling.decoding import BeamStep, Strategy, beam_search_steps, make_strategy
from engine.device import make_generator
from engine.errors import ConfigError
from engine.models.pixelcnn import PixelCNN, RowCache, bits_per_dim

METHODS = ("fast", "naive")
MASK_KINDS = ("top", "bottom", "left", "right")


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


def _canvas(model: PixelCNN, n: int, known, mask) -> tuple[Tensor, Tensor | None]:
    """The image buffer (n, 1, H, W) float with known pixels filled in, and the known mask (n, 1, H, W) bool."""
    device = model.head[1].weight.device
    image = torch.zeros(n, 1, model.height, model.width, device=device)
    if known is None and mask is None:
        return image, None
    if known is None or mask is None:
        raise ConfigError("A completion needs both the known pixels and the mask saying which pixels are known.")
    known_t = torch.as_tensor(np.asarray(known), dtype=torch.float32).reshape(-1, model.height, model.width)
    mask_t = torch.as_tensor(np.asarray(mask, dtype=bool)).reshape(-1, model.height, model.width)
    if len(known_t) not in (1, n) or len(mask_t) not in (1, n):
        raise ConfigError(f"Pass one known image and mask, or {n} of each (one per image sampled).")
    if known_t.min() < 0 or known_t.max() > model.levels - 1 or not torch.equal(known_t, known_t.round()):
        raise ConfigError(f"Known pixels must be whole level values 0..{model.levels - 1}.")
    known_t = known_t.expand(n, -1, -1)[:, None].to(device)
    mask_t = mask_t.expand(n, -1, -1)[:, None].to(device)
    return torch.where(mask_t, known_t, image), mask_t


def _generator(seed: int | None, generator: torch.Generator | None) -> torch.Generator:
    return generator if generator is not None else make_generator(seed)


def _resolve(strategy: Strategy | str | None) -> Strategy:
    strategy = make_strategy("sample") if strategy is None else strategy
    strategy = make_strategy(strategy) if isinstance(strategy, str) else strategy
    if strategy.is_beam:
        raise ConfigError("Beam search keeps several whole images; use beam_search_images instead of the sampler.")
    return strategy


class _Painter:
    """Choose, paint and account for one pixel of the batch (shared by both samplers)."""

    def __init__(self, image: Tensor, mask: Tensor | None, strategy: Strategy, gen: torch.Generator):
        self.image, self.mask, self.strategy, self.gen = image, mask, strategy, gen
        self.log_prob = torch.zeros(len(image), dtype=torch.float64)

    def needed(self, r: int, c: int) -> bool:
        """Whether any image still has to sample pixel (r, c)."""
        return self.mask is None or not bool(self.mask[:, 0, r, c].all())

    def paint(self, r: int, c: int, logits: Tensor) -> PixelStep:
        """Logits (B, V) of pixel (r, c) -> sample, write into the image (known pixels kept), report."""
        values, before, after = self.strategy.choose(logits, self.gen)
        sampled = torch.ones_like(values, dtype=torch.bool) if self.mask is None else ~self.mask[:, 0, r, c]
        values = torch.where(sampled, values, self.image[:, 0, r, c].long())
        self.image[:, 0, r, c] = values.to(self.image.dtype)
        lp = torch.log_softmax(logits.double(), -1).gather(1, values[:, None])[:, 0].cpu()
        self.log_prob += torch.where(sampled.cpu(), lp, torch.zeros_like(lp))
        return PixelStep(r, c, values.cpu().numpy(), before.cpu().numpy(), after.cpu().numpy(),
                         self.log_prob.numpy().copy())


def _done(model: PixelCNN, image: Tensor, labels) -> SampleDone:
    log_prob = model.log_prob(image, labels).double().cpu()
    bpd = bits_per_dim(-log_prob, model.height * model.width)
    return SampleDone(image[:, 0].to(torch.uint8).cpu().numpy(), log_prob.numpy(), bpd.numpy())


@torch.no_grad()
def sample_steps(model: PixelCNN, n: int = 1, *, strategy: Strategy | str | None = None, seed: int | None = None,
                 generator: torch.Generator | None = None, labels=None, known=None, mask=None,
                 method: str = "fast") -> Iterator[PixelStep | SampleDone]:
    """Paint ``n`` images in raster order; yield a :class:`PixelStep` per pixel, then :class:`SampleDone`.

    ``strategy``: a :class:`~engine.sampling.decoding.Strategy` or a name (default
    "sample", the model's own distribution). Randomness comes only from
    ``generator`` (or a new one seeded with ``seed``). ``labels`` (n,) for a
    class-conditional model. ``known`` (1 | n, H, W) level values with
    ``mask`` (1 | n, H, W) bool, True = known: a completion. ``method``
    "fast" (row cache) or "naive" (full pass per pixel) give the same images.
    """
    if method not in METHODS:
        raise ConfigError(f"Unknown sampling method {method!r}; use 'fast' or 'naive'.")
    if int(n) < 1:
        raise ConfigError(f"The number of images must be at least 1, got {n}.")
    strategy, gen = _resolve(strategy), _generator(seed, generator)
    model.eval()
    image, known_mask = _canvas(model, int(n), known, mask)
    model.conditioning(labels, len(image))  # validate labels before painting anything
    painter = _Painter(image, known_mask, strategy, gen)
    cache = RowCache(model, image, labels) if method == "fast" else None
    for r in range(model.height):
        if cache is not None:
            cache.start_row(r)
        for c in range(model.width):
            if not painter.needed(r, c):
                continue
            if cache is not None:
                logits = cache.logits(c)
            else:
                logits = model.categorical_logits(model(image, labels))[:, r, c]
            yield painter.paint(r, c, logits)
    yield _done(model, image, labels)


def sample(model: PixelCNN, n: int = 1, **kwargs) -> SampleDone:
    """Drain :func:`sample_steps` and return its :class:`SampleDone` (the batch API)."""
    last = None
    for last in sample_steps(model, n, **kwargs):
        pass
    return last


def complete_steps(model: PixelCNN, known, mask, n: int = 1, **kwargs) -> Iterator[PixelStep | SampleDone]:
    """Sample the unknown pixels of ``known`` (mask True = known); see :func:`sample_steps`."""
    if isinstance(mask, str):
        mask = completion_mask(mask, model.height, model.width)
    return sample_steps(model, n, known=known, mask=mask, **kwargs)


# --------------------------------------------------------------------------- beam search


class PixelPrefixScorer:
    """``step_logprobs(prefixes (n, t)) -> (n, V)`` for :func:`~engine.sampling.decoding.beam_search_steps` over pixels.

    Keeps a :class:`RowCache` for the beams; each call finds every prefix's
    parent among the previous call's prefixes, reorders the cache, paints the
    newest pixel and evaluates pixel t from the current row only.
    """

    def __init__(self, model: PixelCNN, label: int | None = None):
        self.model, self.label = model, label
        self.cache: RowCache | None = None
        self.prev = torch.zeros(1, 0, dtype=torch.long)

    def __call__(self, prefixes: Tensor) -> Tensor:
        model, t = self.model, prefixes.shape[1]
        if t == 0:
            image = torch.zeros(1, 1, model.height, model.width, device=model.head[1].weight.device)
            self.cache = RowCache(model, image, None if self.label is None else torch.tensor([self.label]))
        else:
            parents = (prefixes[:, None, : t - 1] == self.prev[None]).all(-1).float().argmax(1)
            self.cache.reorder(parents.to(self.cache.image.device))
            r, c = divmod(t - 1, model.width)
            self.cache.image[:, 0, r, c] = prefixes[:, t - 1].to(self.cache.image)
        self.prev = prefixes.clone()
        r, c = divmod(t, model.width)
        if c == 0:
            self.cache.start_row(r)
        return torch.log_softmax(self.cache.logits(c).double(), -1).cpu()


@torch.no_grad()
def beam_search_images(model: PixelCNN, width: int, *, label: int | None = None) -> Iterator[BeamStep | SampleDone]:
    """Beam search over the raster sequence: a BeamStep per pixel, then SampleDone of the best ``width`` images.

    The images are sorted by log p(image), best first (fewer than ``width``
    only when fewer sequences exist).
    """
    model.eval()
    last = None
    for last in beam_search_steps(PixelPrefixScorer(model, label), model.height * model.width, width):
        yield last
    images = torch.as_tensor(last.sequences).reshape(-1, 1, model.height, model.width).float()
    labels = None if label is None else torch.full((len(images),), int(label))
    yield _done(model, images.to(model.head[1].weight.device), labels)


__all__ = ["METHODS", "PixelPrefixScorer", "PixelStep", "SampleDone", "beam_search_images", "complete_steps",
           "completion_mask", "sample", "sample_steps"]
