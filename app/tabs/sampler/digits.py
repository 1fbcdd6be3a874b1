"""The digit the Sampler's image mode completes or measures: a test digit (by index) or a drawing.

The test set is loaded on the main worker the first time it is needed and
kept for the current model's number of levels; the panel's preview shows
the digit with the pixels a completion would paint again dimmed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from app.worker import once
from engine.events import Done
from engine.evaluation.lens import TestDigits, convert_image, load_test_digits


class DigitSource:
    """Talks to its page (``page.model``, ``page.panel``, ``page.context``, ``page.set_note``) by plain calls."""

    def __init__(self, page) -> None:
        self.page = page
        self.test: TestDigits | None = None
        self.levels: int | None = None  # the levels the test digits are quantized to
        self._waiters: list[Callable[[TestDigits], None]] = []

    def model_changed(self) -> None:
        """Test digits are quantized for the model's levels: drop them when the levels change."""
        if self.levels != self.page.model.levels:
            self.test, self.levels = None, None

    def _drawing(self) -> bool:
        return self.page.panel.digit_source.currentText() == "Drawing"

    def with_digit(self, then: Callable[[np.ndarray], None]) -> None:
        """Call ``then(digit)`` with the chosen digit as (H, W) level values (loading the test set if needed)."""
        page = self.page
        if page.model is None:
            page.set_note("The model is still loading.")
            return
        if self._drawing():
            if float(page.panel.pad.image.max()) < 0.5:
                page.set_note("The pad is empty: draw a digit with the mouse (right-click clears).")
                return
            then(convert_image(page.panel.pad.image, page.model.levels)[0])
            return
        index = page.panel.index.value()
        self.with_test_digits(lambda test: then(test.images[min(index, len(test.images) - 1)]))

    def with_test_digits(self, then: Callable[[TestDigits], None], quiet: bool = False) -> None:
        """Call ``then(test digits)``, loading them on the worker the first time (``quiet``: no note on failure)."""
        if self.test is not None:
            then(self.test)
            return
        data = self.page.context.data
        if not data.exists:
            if not quiet:
                self.page.set_note(f"Test digits need the data folder ({data.path} does not exist); "
                                   "draw a digit instead.")
            return
        self._waiters.append(then)
        if len(self._waiters) == 1:  # else it is loading already
            levels = self.page.model.levels
            self.page.context.worker.submit(lambda: once(lambda: load_test_digits(data.path, levels)),
                                            name="Loading test digits", on_event=lambda e: self._loaded(levels, e),
                                            on_error=lambda e: self._failed(e.text(), quiet))

    def _loaded(self, levels: int, event) -> None:
        waiters, self._waiters = self._waiters, []
        if isinstance(event, Done) and self.page.model is not None and self.page.model.levels == levels:
            self.test, self.levels = event.result, levels
            self.page.panel.index.setMaximum(len(self.test.images) - 1)
            for waiter in waiters:
                waiter(self.test)

    def _failed(self, text: str, quiet: bool) -> None:
        self._waiters = []
        if not quiet:
            self.page.set_note(text)

    def update_preview(self) -> None:
        """The chosen digit in the panel, the pixels a completion would paint again dimmed."""
        page = self.page
        if page.model is None:
            return
        if not self._drawing() and self.test is None:
            self.with_test_digits(lambda _: self.update_preview(), quiet=True)
        elif self._drawing() and float(page.panel.pad.image.max()) < 0.5:
            page.panel.preview.set_image(None)
        else:
            self.with_digit(self._show_preview)

    def _show_preview(self, digit: np.ndarray) -> None:
        shown = digit.astype(np.float32) / (self.page.model.levels - 1)
        keep = self.page.panel.kept_mask()
        self.page.panel.preview.set_image(np.where(keep, shown, 0.12 + 0.3 * shown))
