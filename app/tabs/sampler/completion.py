"""Complete any mask: keep the known pixels of a digit and paint the rest, in an ordering that puts them first.

An order-agnostic MADE conditions on every known pixel by being painted in
an ordering where they come first (:func:`engine.models.orderings.known_first`):
a true conditional sample of the unknown pixels. Beside it the bundled raster
PixelCNN completes the same mask from the same seed; it only sees the known
pixels above and to the left of each pixel it paints. A fixed-order model
completes in its own ordering (conditioning on the known pixels that come
before each step). Everything runs on the worker that owns the models.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from engine.catalog import load_model
from engine.cards.bundled import find_bundled
from engine.models.orderings import known_first
from engine.sampling.compare import PaintFinished, PaintTick, paint_steps

from app.tabs.sampler.order_map import order_agnostic, set_model_order

RASTER_NOTE = "sees only the known pixels above<br>and to the left of each pixel it paints"
FIRST_NOTE = "conditions on every known pixel:<br>they come first in its ordering"


def ring_mask(height: int = 28, width: int = 28) -> np.ndarray:
    """(H, W) bool: a ring of known pixels around the centre (4 to 8 pixels from it); inside and outside unknown."""
    rows, cols = np.mgrid[0:height, 0:width]
    r = np.hypot(rows - (height - 1) / 2, cols - (width - 1) / 2)
    return (r >= 4) & (r <= 8)


def dots_mask(height: int = 28, width: int = 28, share: float = 0.2) -> np.ndarray:
    """(H, W) bool: ``share`` of the pixels known, scattered at random (fixed seed, the same every time)."""
    return np.random.default_rng(0).random((height, width)) < share


def in_order(model, order, events: Iterator) -> Iterator:
    """Worker side: run ``events`` with an order-agnostic ``model`` painting in ``order`` (D,), then put its own back."""
    own = model.order().clone()
    set_model_order(model, order)
    try:
        yield from events
    finally:
        set_model_order(model, own)


def side_by_side(runs: list[Iterator]) -> Iterator[PaintTick | PaintFinished]:
    """Single-panel paint runs (one PaintTick per pixel, then PaintFinished each) in lockstep, as one run of
    ``len(runs)`` panels: a PaintTick per pixel of every panel, then one PaintFinished."""
    finished: list[PaintFinished | None] = [None] * len(runs)
    try:
        while any(f is None for f in finished):
            events = []
            for i, run in enumerate(runs):
                event = None if finished[i] is not None else next(run)
                if isinstance(event, PaintFinished):
                    finished[i], event = event, None
                events.append(None if event is None else event.events[0])
            if any(e is not None for e in events):
                yield PaintTick(tuple(events))
    finally:
        for run in runs:
            run.close()
    yield PaintFinished(*(tuple(part for f in finished for part in getattr(f, field))
                          for field in ("images", "log_probs", "bits_per_dim", "pixel_nll")))


class CompletionControl:
    """Plans a completion for its page (``page.model``, ``page.ordering``, ``page.panel``, ``page._launch``,
    ``page.set_note``); keeps the bundled PixelCNN once loaded (on the worker, the only thread using it)."""

    def __init__(self, page) -> None:
        self.page = page
        self.pixelcnn = None  # the bundled binary PixelCNN, loaded on the worker at the first side-by-side run

    def beside_available(self) -> bool:
        """Whether the current model (order-agnostic, binary) can be completed beside the bundled raster PixelCNN."""
        model = self.page.model
        return model is not None and order_agnostic(model) and model.levels == 2 and find_bundled("pixelcnn").ok

    def launch(self, strategy, n: int, digit: np.ndarray, mask: np.ndarray):
        """Complete ``digit`` (H, W) levels keeping ``mask`` (H, W) bool, ``n`` times; returns the job or None."""
        page = self.page
        model, seed, device = page.model, page.panel.seed.value(), page.models.device or "cpu"
        if not order_agnostic(model):
            return page._launch([strategy], n, known=digit, mask=mask)
        order = known_first(mask, page.ordering.order)
        name = f"known pixels first, then {page.ordering.name}"

        def first():
            return in_order(model, order, paint_steps(model, [strategy], n, seed=seed, known=digit, mask=mask))

        if not (page.panel.beside.isChecked() and self.beside_available()):
            return page._launch([strategy], n, known=digit, mask=mask, events=first, order=(order, name),
                                titles=[f"MADE, {name}"], footers=[FIRST_NOTE])

        def both():
            if self.pixelcnn is None:
                self.pixelcnn = load_model(find_bundled("pixelcnn").path, expected_kind="pixelcnn", device=device)
            raster = paint_steps(self.pixelcnn, [strategy], n, seed=seed, known=digit, mask=mask)
            return side_by_side([first(), raster])

        return page._launch([strategy], n, known=digit, mask=mask, events=both, order=(order, name),
                            titles=["MADE, known pixels first", "PixelCNN, raster order"],
                            footers=[FIRST_NOTE, RASTER_NOTE])
