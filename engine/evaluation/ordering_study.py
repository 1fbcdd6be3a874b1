"""The ordering studio: test NLL of binary image models each under an ordering, per-pixel NLL maps,
and the ensemble-of-masks gain of an order-agnostic MADE, as one generator of events.

:func:`study` yields :class:`~engine.events.Progress` (over the whole job),
one :class:`Scored` per contender, one :class:`EnsembleCurve` when asked and
a final :class:`~engine.events.Done` holding the Scored list. Every event is
numpy or plain Python (safe to hand to a GUI thread).

Shapes: ``rows`` (N, D) 0/1 test images (uint8 or float), ``D = H * W`` in
flat raster index; orderings (D,) int64 permutations (:mod:`engine.models.orderings`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.errors import ConfigError
from engine.evaluation.likelihood import ensemble_nll
from engine.events import Done, Progress
from engine.models.orderings import check_ordering

BATCH = 250
MAX_ORDERING_BYTES = 1 << 20


def visit_ordering(visited: Sequence[int], size: int) -> torch.Tensor:
    """(size,) int64: the pixels in the order first ``visited`` (flat indices; repeats ignored),
    then the rest in raster order."""
    seen = dict.fromkeys(int(v) for v in visited)
    bad = [v for v in seen if not 0 <= v < size]
    if bad:
        raise ConfigError(f"A drawn ordering visits pixel {bad[0]}, outside 0..{size - 1}.")
    first = list(seen)
    rest = np.setdiff1d(np.arange(size), np.asarray(first, dtype=np.int64), assume_unique=True)
    return check_ordering(np.concatenate([np.asarray(first, dtype=np.int64), rest]), size)


def read_ordering(path, size: int) -> torch.Tensor:
    """An ordering (size,) int64 from a file: a ``.npy`` array, or text of integers separated by spaces,
    commas or new lines. ConfigError (one sentence naming the file) unless it is a permutation of 0..size-1."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_ORDERING_BYTES:
            raise ConfigError(f"{path.name} is too large for an ordering of {size} pixels.")
        if path.suffix == ".npy":
            values = np.load(path, allow_pickle=False)
        else:
            values = np.array(path.read_text().replace(",", " ").split(), dtype=np.int64)
    except OSError as exc:
        raise ConfigError(f"Could not read {path.name}: {exc.strerror or exc}.") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name} is not an ordering (whole numbers 0..{size - 1}): {exc}") from exc
    try:
        return check_ordering(values, size)
    except ConfigError as exc:
        raise ConfigError(f"{path.name}: {exc}") from exc


def ensemble_counts(n_masks: int) -> tuple[int, ...]:
    """1, 2, 4, ... up to ``n_masks`` mask sets, ending with ``n_masks`` itself."""
    counts = [c for c in (2 ** k for k in range(12)) if c < n_masks]
    return (*counts, int(n_masks))


@dataclass(frozen=True)
class Contender:
    """A model to score: shown as ``name``, under ``order`` (D,) if given (a MADE only), else its own ordering,
    described by ``ordering`` (e.g. "raster", "spiral", "drawn")."""

    name: str
    model: object
    ordering: str
    order: torch.Tensor | None = None


@dataclass(frozen=True)
class Scored:
    """A contender's test NLL ``nll`` (nats per image, mean over ``images``) and ``heatmap`` (H, W) float32:
    the mean NLL of each pixel given the pixels before it in the ordering (it sums to ``nll``)."""

    name: str
    ordering: str
    nll: float
    heatmap: np.ndarray
    images: int


@dataclass(frozen=True)
class EnsembleCurve:
    """Test NLL (nats) of the ensembles of the first ``counts`` mask sets of the MADE ``name``."""

    name: str
    counts: tuple[int, ...]
    nlls: tuple[float, ...]


def score(contender: Contender, rows: np.ndarray, batch: int = BATCH) -> Iterator[Progress | Scored]:
    """Progress(images done, N) per batch, then the contender's :class:`Scored` (the model's mask set restored).

    The model is used in the mode it is in (loaded models are in eval mode): ``eval()`` would put a MADE
    back on mask set 0.
    """
    model, n = contender.model, len(rows)
    if n == 0:
        raise ConfigError("Score on at least one test image.")
    keep = getattr(model, "mask_index", 0)
    if contender.order is not None:
        if not hasattr(model, "select"):
            raise ConfigError(f"{contender.name} is tied to its own ordering; only a MADE takes another one.")
        model.select(keep, contender.order)
    try:
        total = np.zeros((model.height, model.width), np.float64)
        for start in range(0, n, batch):
            chunk = torch.as_tensor(np.asarray(rows[start : start + batch]))
            with torch.no_grad():  # not lens.pixel_nll: its model.eval() puts a MADE back on mask set 0
                nll = -model.position_log_probs(chunk).double().sum(0)
            total += nll.reshape(model.height, model.width).cpu().numpy()
            yield Progress(min(start + batch, n), n, contender.name)
    finally:
        if contender.order is not None:
            model.select(keep)
    heat = total / n
    yield Scored(contender.name, contender.ordering, float(heat.sum()), heat.astype(np.float32), n)


def _rescaled(events: Iterator, part: int, parts: int, n: int) -> Iterator:
    """Pass ``events`` on, their Progress mapped into part ``part`` of ``parts`` (each ``n`` units)."""
    for event in events:
        if isinstance(event, Progress) and event.total:
            yield Progress(part * n + round(n * event.done / event.total), parts * n, event.message)
        else:
            yield event


def study(contenders: Sequence[Contender], rows: np.ndarray, ensemble: Contender | None = None,
          batch: int = BATCH) -> Iterator[object]:
    """Score every contender on ``rows``, then (if ``ensemble``, a MADE with several mask sets) its ensemble curve.

    Yields Progress over the whole job, Scored per contender, EnsembleCurve, Done([Scored, ...]).
    """
    parts, n, results = len(contenders) + (ensemble is not None), len(rows), []
    for part, contender in enumerate(contenders):
        for event in _rescaled(score(contender, rows, batch), part, parts, n):
            if isinstance(event, Scored):
                results.append(event)
            yield event
    if ensemble is not None:
        counts = ensemble_counts(ensemble.model.n_masks)
        label = f"{ensemble.name}: ensembles of up to {counts[-1]} masks"
        inner = ensemble_nll(ensemble.model, np.asarray(rows), counts, batch)
        for event in _rescaled(inner, parts - 1, parts, n):
            if isinstance(event, Done):
                yield EnsembleCurve(ensemble.name, counts, tuple(float(event.result[c]) for c in counts))
            else:
                yield Progress(event.done, event.total, label) if isinstance(event, Progress) else event
    yield Done(results)


__all__ = ["Contender", "EnsembleCurve", "Scored", "ensemble_counts", "read_ordering", "score", "study",
           "visit_ordering"]
