"""One pass vs D passes: the asymmetry of autoregressive models, measured live for the current model.

Scoring a batch is one teacher-forced pass (every conditional at once);
sampling the same number of images takes D sequential steps (one per
pixel). A line under the canvas times both on the worker that owns the
model (one torch thread, as the painting runs), never on the GUI thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from app.worker import once
from engine.device import torch_threads
from engine.evaluation.lens import pixel_nll
from engine.events import Done
from engine.sampling import autoregressive as ar

PASS_IMAGES = 16  # a batch the size of the Sampler's grid
PROMPT = "One pass vs D passes: time scoring a batch against sampling it."


@dataclass(frozen=True)
class PassTiming:
    """``images`` scored in one pass in ``score_s`` seconds and sampled in ``steps`` steps in ``sample_s``;
    ``scored`` names what was scored ("test digits" or "sampled images")."""

    images: int
    steps: int
    score_s: float
    sample_s: float
    scored: str

    def sentence(self) -> str:
        ratio = self.sample_s / max(self.score_s, 1e-9)
        return (f"One pass vs {self.steps} passes: log p(x) of {self.images} {self.scored} in one pass "
                f"{_seconds(self.score_s)}; sampling {self.images} images ({self.steps} sequential steps) "
                f"{_seconds(self.sample_s)}, {ratio:,.0f}× longer.")


def _seconds(s: float) -> str:
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def time_passes(model, images: np.ndarray | None, labels: np.ndarray | None = None) -> PassTiming:
    """Worker side: sample as many images as ``images`` (n, H, W) levels holds (:data:`PASS_IMAGES` when None)
    with the model's fast sampler (D steps), then score ``images`` (or the sampled ones) in one pass.
    ``labels`` (n,): the digits of a class-conditional model (the same for sampling and scoring)."""
    n = PASS_IMAGES if images is None else len(images)
    labels = None if labels is None else [int(v) for v in labels]
    with torch.no_grad(), torch_threads(1):
        start = time.perf_counter()
        done = ar.sample(model, n, strategy="sample", seed=0, labels=labels, score=False)
        sample_s = time.perf_counter() - start
        batch = images if images is not None else done.values.reshape(n, model.height, model.width)
        start = time.perf_counter()
        pixel_nll(model, batch, None if labels is None else torch.tensor(labels))
        score_s = time.perf_counter() - start
    return PassTiming(n, model.n_steps(), score_s, sample_s, "sampled images" if images is None else "test digits")


class PassTimer(QWidget):
    """The line under the canvas and its Time button; talks to its page (``page.model``, ``page.models.worker``,
    ``page.digits``, ``page._label``) by plain calls."""

    def __init__(self, page) -> None:
        super().__init__()
        self.page = page
        self.line = QLabel(PROMPT)
        self.line.setWordWrap(True)
        self.button = QPushButton("Time it")
        self.button.setToolTip(f"Score {PASS_IMAGES} test digits in one pass and sample {PASS_IMAGES} images "
                               "pixel by pixel, on the model's worker")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.line, 1)
        row.addWidget(self.button)
        self.button.clicked.connect(lambda _=False: self._measure())
        self.result: PassTiming | None = None

    def model_changed(self) -> None:
        self.result = None
        self.line.setText(PROMPT)

    def _measure(self) -> None:
        page = self.page
        if page.model is None:
            page.set_note("The model is still loading.")
            return
        if page.context.data.exists:
            page.digits.with_test_digits(
                lambda test: self._submit(test.images[:PASS_IMAGES],
                                          None if test.labels is None else test.labels[:PASS_IMAGES]))
        else:
            self._submit(None, None)

    def _submit(self, images: np.ndarray | None, labels: np.ndarray | None) -> None:
        page = self.page
        model = page.model
        if not model.num_classes:
            labels = None
        elif labels is None:  # sampled images: the chosen digit
            labels = np.full(PASS_IMAGES if images is None else len(images), page._label())
        self.line.setText(f"Timing one pass against {model.n_steps()} passes…")
        page.models.worker.submit(
            lambda: once(lambda: time_passes(model, images, labels)), name="One pass vs D passes", key="passes",
            on_event=lambda e: self._show(model, e.result) if isinstance(e, Done) else None,
            on_error=lambda e: self.line.setText(e.text()))

    def _show(self, model, timing: PassTiming) -> None:
        if model is not self.page.model:
            return
        self.result = timing
        self.line.setText(timing.sentence())
