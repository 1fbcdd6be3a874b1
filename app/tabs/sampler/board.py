"""What the Sampler's canvas shows of one painting run (GUI thread, numpy only).

A run has P panels (one per strategy) of B_p images each. The board keeps,
per panel: the values painted so far (H, W in [0, 1]), which pixels are
painted, the per-pixel NLL (NaN until known), each image's running
log-likelihood, and the current pixel's distributions. It turns that into
RGB mosaics for :class:`~app.tabs.sampler.pixel_views.PanelGrid`; events only
write numbers, the page redraws from the board on a timer (coalesced).
"""

from __future__ import annotations


import numpy as np

from app.tabs.sampler.pixel_views import UNPAINTED, heat_colours
from engine.sampling.decoding import BeamStep
from engine.sampling.mosaic import grid_shape, mosaic
from engine.sampling.compare import PaintFinished, PaintTick
from engine.sampling.pixelcnn import PixelStep
from engine.models.pixelcnn import bits_per_dim

GAP = np.array([0.85, 0.85, 0.85], np.float32)
BLANK_INK = 0.02  # a finished panel whose images have less ink than this share of pixels is a blank page


class PaintBoard:
    """State of a run: ``titles`` (P,), ``sizes`` (P,) images per panel, ``levels`` values per pixel.

    ``known`` (H, W) level values with ``mask`` (H, W) bool: a completion's kept pixels (shown tinted);
    ``greedy`` (P,): whether panel p's strategy takes the most probable value (for the blank-page note).
    """

    def __init__(self, titles: list[str], sizes: list[int], height: int, width: int, levels: int,
                 known: np.ndarray | None = None, mask: np.ndarray | None = None,
                 greedy: list[bool] | None = None) -> None:
        self.titles, self.sizes, self.levels = list(titles), list(sizes), levels
        self.h, self.w = height, width
        self.mask = None if mask is None else np.asarray(mask, bool)
        self.values = [np.zeros((b, height, width), np.float32) for b in sizes]
        self.painted = [np.zeros((b, height, width), bool) for b in sizes]
        self.nll = [np.full((b, height, width), np.nan, np.float32) for b in sizes]
        self.log_prob = [np.zeros(b) for b in sizes]
        if self.mask is not None:
            for values in self.values:
                values[:, self.mask] = np.asarray(known, np.float32)[self.mask] / (levels - 1)
        self.total = height * width - (0 if self.mask is None else int(self.mask.sum()))
        self.ticks = 0
        self.pixels: list[tuple[int, int] | None] = [None] * len(sizes)  # each panel's current pixel
        self.probs: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(sizes)
        self.ink_cut = [InkCut(g) for g in (greedy or [False] * len(sizes))]  # per panel: how often the strategy cut every 'ink' value
        self.finished: PaintFinished | None = None
        self.caption = ""  # replaces the default status line (the lens writes its result here)

    # ---------------------------------------------------------------- events
    def apply(self, tick: PaintTick) -> None:
        """Write one pixel of every panel."""
        self.ticks += 1
        for p, event in enumerate(tick.events):
            if isinstance(event, PixelStep):
                self._pixel(p, event)
            elif isinstance(event, BeamStep):
                self._beam(p, event)

    def _pixel(self, p: int, e: PixelStep) -> None:
        r, c = e.row, e.col
        self.values[p][:, r, c] = e.value / (self.levels - 1)
        self.painted[p][:, r, c] = True
        chosen = e.probs_before[np.arange(len(e.value)), e.value]
        self.nll[p][:, r, c] = -np.log(np.maximum(chosen, 1e-30))
        self.log_prob[p] = np.asarray(e.log_prob_so_far, np.float64)
        self.pixels[p], self.probs[p] = (r, c), (e.probs_before[0], e.probs_after[0])
        self.ink_cut[p].add(e.probs_before, e.probs_after)

    def _beam(self, p: int, e: BeamStep) -> None:
        """Beams reorder at every pixel: rewrite each kept beam's prefix."""
        k, t = e.sequences.shape
        b = self.sizes[p]
        flat_v, flat_p = self.values[p].reshape(b, -1), self.painted[p].reshape(b, -1)
        flat_v[:k, :t] = e.sequences / (self.levels - 1)
        flat_p[:k, :t] = True
        self.log_prob[p][:k] = e.log_probs
        self.pixels[p], self.probs[p] = divmod(t - 1, self.w), None

    def finish(self, done: PaintFinished) -> None:
        """The exact images, log p(x) and per-pixel NLL maps replace the running ones."""
        self.finished = done
        for p in range(len(self.sizes)):
            self.sizes[p] = len(done.images[p])  # beam search may keep fewer images than its width
            self.values[p] = done.images[p].astype(np.float32) / (self.levels - 1)
            self.painted[p] = np.ones(self.values[p].shape, bool)
            self.nll[p] = done.pixel_nll[p]
            self.log_prob[p] = np.asarray(done.log_probs[p], np.float64)

    @property
    def pixel(self) -> tuple[int, int] | None:
        """The current pixel (row, col) of the first panel painting (panels in other orderings differ)."""
        return next((px for px in self.pixels if px is not None), None)

    # ----------------------------------------------------------------- views
    def rgb(self, p: int) -> np.ndarray:
        """Panel p's images as an RGB mosaic: painted grey, kept pixels tinted blue, unpainted slate."""
        v = self.values[p][..., None]
        grey = np.repeat(v, 3, axis=-1)
        if self.mask is not None:
            tint = np.concatenate([0.35 * v, 0.1 + 0.6 * v, 0.3 + 0.7 * v], axis=-1)
            grey = np.where(self.mask[None, :, :, None], tint, grey)
        shown = self.painted[p] if self.mask is None else self.painted[p] | self.mask[None]
        return mosaic(np.where(shown[..., None], grey, UNPAINTED), gap=1, fill=GAP)

    def heat(self, p: int) -> np.ndarray:
        """Panel p's per-pixel NLL as an RGB mosaic (grey where not known yet)."""
        return mosaic(heat_colours(self.nll[p]), gap=1, fill=GAP)

    def marks(self, p: int) -> np.ndarray | None:
        """(B, 2) mosaic coordinates (top, left) of the current pixel in each image of panel p."""
        if self.pixels[p] is None or self.finished is not None:
            return None
        _, cols = grid_shape(self.sizes[p])
        cells = np.array([divmod(i, cols) for i in range(self.sizes[p])])
        return cells * (self.h + 1, self.w + 1) + self.pixels[p]

    def grey(self) -> np.ndarray:
        """Every panel side by side as one grey image in [0, 1] (for Export PNG)."""
        panels = [mosaic(np.where(self.painted[p] | self._kept(), self.values[p], 0.0), gap=1, fill=0.5)
                  for p in range(len(self.sizes))]
        height = max(m.shape[0] for m in panels)
        out = [np.pad(m, ((0, height - m.shape[0]), (0, 2)), constant_values=1.0) for m in panels]
        return np.concatenate(out, axis=1)[:, :-2]

    def _kept(self) -> np.ndarray:
        return np.zeros((self.h, self.w), bool) if self.mask is None else self.mask

    # ----------------------------------------------------------------- numbers
    def painted_count(self) -> int:
        """Pixels painted so far in panel 0's first image (the kept pixels of a completion not counted)."""
        painted = self.painted[0][0] if self.mask is None else self.painted[0][0] & ~self.mask
        return int(painted.sum())

    def ink_share(self, p: int) -> float:
        """Share of panel p's pixels (all images) painted with ink, i.e. any value above 0."""
        return float(np.mean(self.values[p] > 0)) if self.values[p].size else 0.0

    def blank_reasons(self) -> list[str]:
        """One sentence per finished panel whose images are (nearly) blank, saying why, from the run's numbers."""
        if self.finished is None:
            return []
        reasons = []
        for p, title in enumerate(self.titles):
            share = self.ink_share(p)
            if share >= BLANK_INK:
                continue
            page = "a blank page" if share == 0 else f"a near-blank page ({share:.1%} of pixels inked)"
            if title.startswith("beam"):
                lp = float(np.max(self.log_prob[p]))
                reasons.append(f"{title}: {page}. Beam search keeps the most probable whole images, and under this "
                               f"model an (almost) empty page is more probable (log p = {lp:.1f} nats) than any "
                               f"digit: sample instead to see digits.")
            else:
                reasons.append(f"{title}: {page}. {self.ink_cut[p].sentence()}")
        return reasons

    def summary(self, p: int) -> str:
        """Panel p's log p (mean over its images) and bits/dim: so far while painting, exact when finished."""
        lp = float(np.mean(self.log_prob[p]))
        if self.finished is not None:
            return f"{lp:.1f} nats · {float(np.mean(self.finished.bits_per_dim[p])):.3f} bits/dim"
        return f"so far {lp:.1f} nats · {bits_per_dim(-lp, max(self.ticks, 1)):.3f} bits/dim"


class InkCut:
    """Counts, over a panel's pixel draws, those where the strategy cut away every 'ink' value (any value > 0)."""

    def __init__(self, greedy: bool = False) -> None:
        self.greedy = greedy  # the strategy keeps only the most probable value of what it draws from
        self.draws = self.cut = 0
        self.max_cut = 0.0  # the largest p(ink) the strategy set to zero

    def add(self, before: np.ndarray, after: np.ndarray) -> None:
        """before, after: (B, V) the model's and the strategy's distributions of one pixel in B images."""
        ink_before = before[:, 1:].sum(1)
        ink_after = (np.argmax(after, 1) > 0).astype(np.float32) if self.greedy else after[:, 1:].sum(1)
        cut = (ink_after <= 0) & (ink_before > 0)
        self.draws += len(before)
        self.cut += int(cut.sum())
        if cut.any():
            self.max_cut = max(self.max_cut, float(ink_before[cut].max()))

    def sentence(self) -> str:
        """Why a page stayed blank, in the run's own numbers."""
        if not self.draws:
            return "Nothing was drawn."
        if self.cut == 0:
            return "The strategy kept every 'ink' choice; the model itself put almost no ink here."
        return (f"This strategy cut away every 'ink' choice at {self.cut / self.draws:.0%} of the pixels, where "
                f"p(ink) was at most {self.max_cut:.2f}: in empty space a stroke starts with a small p(ink), so "
                f"none began. Try sample, temperature, or lighter truncation (top-p 0.99, min-p 0.002).")
