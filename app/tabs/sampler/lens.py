"""The Sampler's likelihood lens: the exact log p(x) of any image, against the test set's NLLs.

The measured image (a test digit, a drawing, noise, an inverted or rotated
digit, or a picture file converted to the model's input) is shown in the
canvas with its per-pixel NLL heatmap; its NLL is marked on a histogram of
the NLLs of a fixed, evenly spaced subset of the test set, computed once
per model and kept. Both run on the worker that owns the model (the
Sampler's; measuring is latest-wins), the only thread that uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PySide6.QtWidgets import QFileDialog

from app.tabs.sampler.board import PaintBoard
from app.widgets.image_view import read_picture
from app.worker import once
from engine.device import torch_threads
from engine.events import Done, Progress
from engine.evaluation.lens import LensReport, TestDigits, convert_image, dataset_nlls, measure, share_below, subset, variant
from engine.sampling.compare import PaintFinished

LENS_SUBSET = 1000  # test digits in the histogram: 5 s of one core for the bundled model (10 s CPU for 2,000)
PICTURES = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.pgm *.ppm *.pbm *.tif *.tiff *.webp);;All files (*)"


class LensController:
    """Talks to its page (``page.model``, ``page.panel``, ``page.hist``, ``page.set_note``) by plain calls."""

    def __init__(self, page) -> None:
        self.page = page
        self.subset = LENS_SUBSET
        self.nlls: dict[tuple, tuple[np.ndarray, str]] = {}  # (model path, ordering) -> (test NLLs, their data set)
        self.computing: tuple | None = None
        self.last: tuple[str, LensReport] | None = None

    def model_changed(self) -> None:
        self.last = None
        self.page.panel.lens_result.setText("Measure an image against the test set's negative log-likelihoods.")
        self.page.hist.clear_marks()
        self._show_histogram()

    def _show_histogram(self) -> None:
        cached = self.nlls.get(self.page.model_key)
        if cached is None:
            self.page.hist.set_nlls(None, "Measure an image to see the test set's NLLs")
        else:
            nlls, source = cached
            self.page.hist.set_nlls(nlls, f"NLL of {len(nlls):,} test digits", f"{source}, an evenly spaced subset")

    # ------------------------------------------------------------ measuring
    def measure(self) -> None:
        """Measure what the lens source names (a file dialog for 'Image file…')."""
        page, panel = self.page, self.page.panel
        model = page.model
        if model is None:
            page.set_note("The model is still loading.")
            return
        source = panel.lens_source.currentText()
        if source == "Image file…":
            path, _ = QFileDialog.getOpenFileName(page, "Measure an image", "", PICTURES)
            if path:
                self.measure_file(path)
            return
        if source == "Noise":
            seed = panel.seed.value()
            noise = variant(np.zeros((model.height, model.width), np.uint8), "noise", model.levels, seed)
            self._submit(lambda: (noise, ""), f"noise (seed {seed})")
            return
        kind = {"Inverted digit": "inverted", "Rotated digit": "rotated"}.get(source)
        name = self._digit_name()
        levels = model.levels
        page.digits.with_digit(lambda d: self._submit(lambda: (d if kind is None else variant(d, kind, levels), ""),
                                               name if kind is None else f"{kind} {name}"))

    def measure_file(self, path) -> None:
        """Measure a picture file; a wrong size or mode is converted (with a note) or refused (with a reason)."""
        model = self.page.model
        pixels = read_picture(path)
        if pixels is None:
            self.page.set_note(f"Could not read {Path(path).name} as an image (unknown or damaged format).")
            return
        levels, h, w = model.levels, model.height, model.width
        self._submit(lambda: convert_image(pixels, levels, h, w), Path(path).name)

    def _digit_name(self) -> str:
        panel = self.page.panel
        return "drawing" if panel.digit_source.currentText() == "Drawing" else f"test digit {panel.index.value()}"

    def _submit(self, make: Callable[[], tuple[np.ndarray, str]], name: str) -> None:
        """``make()`` runs on the worker: (image (H, W) levels, conversion note); then the exact log p."""
        page = self.page
        model, label = page.model, page._label()

        def work() -> LensReport:
            image, note = make()
            return measure(model, image, label, note)

        page.models.worker.submit(
            lambda: once(work), name="likelihood lens", key="lens", brief=True,
            on_event=lambda e: self._show(name, e.result) if isinstance(e, Done) else None,
            on_error=lambda e: page.set_note(f"{name}: {e.text()}"))

    def _show(self, name: str, report: LensReport) -> None:
        page = self.page
        page.stop()
        model = page.model
        board = PaintBoard([name], [1], model.height, model.width, model.levels)
        board.finish(PaintFinished((report.image[None],), (np.array([report.log_prob]),),
                                   (np.array([report.bits_per_dim]),), (report.pixel_nll[None],)))
        self.last = (name, report)
        page.hist.mark(-report.log_prob, name)
        page.set_note(report.note)
        page._show_board(board)
        self.write_result()
        self.ensure_histogram()

    def write_result(self) -> None:
        if self.last is None:
            return
        name, r = self.last
        text = f"{name}: log p(x) = {r.log_prob:.1f} nats ({r.bits_per_dim:.3f} bits/dim)."
        cached = self.nlls.get(self.page.model_key)
        if cached is not None:
            nlls = cached[0]
            text += (f" Its NLL is higher than {share_below(-r.log_prob, nlls):.1%} of {len(nlls):,} test digits "
                     f"(median {np.median(nlls):.1f} nats): far to the right means the model finds it unlikely.")
        self.page.panel.lens_result.setText(text)
        board = self.page.board
        if board is not None and board.titles == [name] and board.finished is not None:
            board.caption = text
            self.page._mark_dirty()

    # ------------------------------------------------------------ histogram
    def ensure_histogram(self) -> None:
        """Compute the test-set NLLs of the current model once (on the model's worker), then show them."""
        page, key = self.page, self.page.model_key
        if key in self.nlls or self.computing == key:
            return
        if not page.context.data.exists:
            page.hist.set_nlls(None, "The test-set histogram needs the test digits in the data folder")
            return
        page.digits.with_test_digits(lambda test: self._compute(test, key), quiet=True)

    def _compute(self, test: TestDigits, key: tuple) -> None:
        page = self.page
        if key != page.model_key or key in self.nlls or self.computing == key:
            return
        model = page.model
        idx = subset(len(test.images), self.subset)
        images = test.images[idx]
        labels = test.labels[idx] if test.labels is not None and model.num_classes else None
        self.computing = key
        page.hist.set_nlls(None, f"Computing the NLL of {len(idx):,} test digits…")
        page.models.worker.submit(lambda: test_set_nlls(model, images, labels), name="Lens histogram",
                                   on_event=lambda e: self._computed(key, test.source, e),
                                   on_finished=lambda job: self._job_ended(key),
                                   on_error=lambda e: self.page.hist.set_nlls(None, e.text()))

    def _computed(self, key: tuple, source: str, event) -> None:
        if not isinstance(event, Done):
            return
        self.computing = None
        self.nlls[key] = (event.result, source)
        if key == self.page.model_key:
            self._show_histogram()
            self.write_result()

    def _job_ended(self, key: tuple) -> None:
        """Stopped or failed before the end: the next measurement tries again."""
        if self.computing == key:
            self.computing = None


def test_set_nlls(model, images: np.ndarray, labels: np.ndarray | None):
    """Worker side: :func:`dataset_nlls` (B, H, W) -> Done((B,) nats), without autograd, on one torch thread
    (more threads than free cores made it 3x slower, measured on 2 busy cores), its progress in digits."""
    with torch.no_grad(), torch_threads(1):
        for event in dataset_nlls(model, images, labels):
            yield Progress(event.done, event.total, f"{event.done:,} of {event.total:,} test digits") \
                if isinstance(event, Progress) else event
