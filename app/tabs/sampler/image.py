"""The Sampler's image mode: watch a PixelCNN, NADE or MADE paint digits pixel by pixel, in its ordering.

A run is one engine generator (:func:`engine.sampling.compare.paint_steps`) on
the main worker: a tick per pixel of every panel (one panel per strategy),
then the exact likelihoods. Events only write into a
:class:`~app.tabs.sampler.board.PaintBoard`; a 20 ms timer redraws from it
when it changed (coalesced, fixed levels). Start, Pause/Resume, Step (one
pixel, then hold) and Stop use the worker's cooperative job controls, so
Stop, or closing the window, ends the run within one pixel. Beside the canvas
the ordering map (:mod:`~app.tabs.sampler.order_map`); completions of any
mask in :mod:`~app.tabs.sampler.completion`; one pass vs D passes under it
(:mod:`~app.tabs.sampler.passes`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QWidget

from app.tabs.sampler.board import PaintBoard
from app.tabs.sampler.completion import CompletionControl
from app.tabs.sampler.digits import DigitSource
from app.tabs.sampler.image_panel import ImagePanel
from app.tabs.sampler.lens import LensController
from app.tabs.sampler.order_map import OrderingControl
from app.tabs.sampler.passes import PassTimer
from app.widgets import with_side_panel
from app.widgets.image_view import save_png
from app.tabs.sampler.pixel_views import HEAT_MAX, DistributionBars, NllHistogram, PanelGrid
from app.tabs.sampler.strategy_box import describe
from app.tabs.sampler.model_choice import ModelChoice
from app.tabs.sampler.stepping import SteppedRun
from app.worker import Job
from engine.catalog import kinds_for
from engine.errors import ConfigError
from engine.sampling.compare import PaintFinished, PaintTick, check_run, paint_steps

REDRAW_MS = 20
BUNDLED_NADE_MADE = (("nade", "NADE (raster)"), ("made", "MADE (raster, 1 mask)"),
                     ("made_orderless", "MADE, order-agnostic (32 orderings)"))


class Throttle:
    """At most ``rate`` events per second from a generator (None: no limit); the rate may change mid-run."""

    def __init__(self, rate: float | None = None) -> None:
        self.rate = rate

    def wrap(self, events: Iterator) -> Iterator:
        due = time.perf_counter()
        for event in events:
            rate = self.rate
            delay = 0.0
            if rate:  # after a pause, catch up by at most 50 ms worth of pixels
                due = max(due + 1.0 / rate, time.perf_counter() - 0.05)
                delay = max(0.0, due - time.perf_counter())
            time.sleep(delay)  # sleep(0) too: hands the GIL to the GUI thread at once, so redraws keep up
            yield event


class ImageSamplerPage(SteppedRun, QWidget):
    """Canvas, distribution bars and lens histogram on the left; the panel on the right."""

    TICK, FINISHED, UNIT = PaintTick, PaintFinished, "pixels"

    def __init__(self, context) -> None:
        super().__init__()
        self.context = context
        self.model = None
        self.model_path: Path | None = None
        self.finished_job: Job | None = None
        self.job: Job | None = None
        self.board: PaintBoard | None = None
        self.dirty, self.redraws = False, 0
        self.throttle = Throttle()
        self.panel = ImagePanel()
        self.grid, self.bars, self.hist = PanelGrid(), DistributionBars(), NllHistogram()
        self.bars_for = QComboBox()
        self.bars_for.setToolTip("Whose current pixel the bars show")
        self.stats, self.note = QLabel(), QLabel()
        for label in (self.stats, self.note):
            label.setWordWrap(True)
        self.timer = QTimer(self, interval=REDRAW_MS)
        self.timer.timeout.connect(self._render)
        self.lens = LensController(self)
        self.digits = DigitSource(self)
        self.ordering = OrderingControl(self)
        self.completion = CompletionControl(self)
        self.passes = PassTimer(self)
        self._layout()
        self._connect()
        self.models = ModelChoice(context, self.panel.model, kinds_for("images"), self._model_loaded, self.set_note, context.device,
                                  worker=context.sampler)
        self.models.add_bundled("pixelcnn", "PixelCNN, binarized MNIST",
                                "Open a PixelCNN checkpoint with File › Open checkpoint.")
        self.models.add_bundled("pixelcnn_grey", "PixelCNN, 16 grey levels, by digit",
                                "Open a PixelCNN checkpoint with File › Open checkpoint.")
        for name, label in BUNDLED_NADE_MADE:
            self.models.add_bundled(name, label, "Open a NADE or MADE checkpoint with File › Open checkpoint.")

    def _layout(self) -> None:
        left = QWidget()
        grid = QGridLayout(left)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.grid, 0, 0, 1, 2)
        grid.addWidget(self.ordering.map, 0, 2, 2, 1)
        grid.addWidget(self.passes, 1, 0, 1, 2)
        grid.addWidget(self.bars_for, 2, 0)
        grid.addWidget(self.bars, 3, 0)
        grid.addWidget(self.hist, 2, 1, 2, 2)  # under the map too: the bars keep half the width
        grid.addWidget(self.stats, 4, 0, 1, 3)
        grid.addWidget(self.note, 5, 0, 1, 3)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(3, 2)
        grid.setColumnStretch(0, 5)
        grid.setColumnStretch(1, 3)
        QHBoxLayout(self).addWidget(with_side_panel(left, self.panel, 350))

    def _connect(self) -> None:
        p = self.panel
        self._connect_run_buttons()
        p.export.clicked.connect(self.export_dialog)
        p.complete.clicked.connect(lambda _=False: self._call(self.complete))
        p.measure.clicked.connect(lambda _=False: self._call(self.lens.measure))
        p.speed.currentIndexChanged.connect(self._speed_changed)
        for signal in (p.index.valueChanged, p.digit_source.currentIndexChanged, p.keep.currentIndexChanged,
                       p.pad.drawn):
            signal.connect(lambda _: self.digits.update_preview())
        self.bars_for.currentIndexChanged.connect(lambda _: self._mark_dirty())

    # ------------------------------------------------------------- models
    @property
    def entries(self) -> list[tuple[str, Path]]:
        return self.models.entries

    def accepts_checkpoint(self, config: dict) -> bool:
        return config.get("kind") in kinds_for("images")

    def open_checkpoint(self, path, config: dict) -> None:
        self.models.add_opened(path)

    @property
    def model_key(self) -> tuple:
        """(checkpoint path, ordering name): what a model's measured numbers (the lens histogram) belong to."""
        return self.model_path, self.ordering.name

    def _model_loaded(self, model, path: Path) -> None:
        self.stop()
        self.model, self.model_path = model, path
        self.ordering.model_changed(model)
        self.passes.model_changed()
        self._clear_canvas()
        self.digits.model_changed()
        self.panel.label.setEnabled(self.model.num_classes > 0)
        self.panel.model_info.setText(model_info(self.model))
        self.panel.beside.setEnabled(self.completion.beside_available())
        self.lens.model_changed()
        self.digits.update_preview()

    def ordering_changed(self) -> None:
        """The model paints in another ordering now: its pictures and measured numbers are stale."""
        self.stop()
        self._clear_canvas()
        self.panel.model_info.setText(model_info(self.model, self.ordering.name))
        self.lens.model_changed()

    def _label(self) -> int | None:
        return self.panel.label.value() if self.model is not None and self.model.num_classes else None

    # --------------------------------------------------------------- runs
    def start(self, step: bool = False) -> Job | None:
        """Paint in the chosen mode; a bad strategy setting is refused here with the engine's reason."""
        mode = self.panel.mode.currentText()
        try:
            if mode == "Compare strategies":
                strategies = list(self.panel.compare_strategies)
                if len(strategies) < 2:
                    raise ConfigError("Compare needs 2 to 4 strategies: pick one above and press Add strategy.")
            else:
                strategies = [self.panel.strategy()]
        except ConfigError as exc:
            self.panel.strategy_error.setText(str(exc))
            self.set_note(f"Not started: {exc}")
            return None
        n = 1 if mode == "Single image" else self.panel.n_images.value()
        return self._launch(strategies, n, step=step)

    def complete(self) -> None:
        """Keep the chosen pixels of the digit and paint the rest, several times."""
        try:
            strategy = self.panel.strategy()
        except ConfigError as exc:
            self.set_note(f"Not started: {exc}")
            return
        mask = self.panel.kept_mask()
        if not mask.any() or mask.all():
            self.set_note("Mark some pixels to keep on the pad (and leave some to paint), or keep a half.")
            return
        self.digits.with_digit(lambda digit: self._call(
            lambda: self.completion.launch(strategy, self.panel.times.value(), digit, mask)))

    def _launch(self, strategies, n: int, known=None, mask=None, step: bool = False, events=None,
                titles=None, footers=None, order=None) -> Job | None:
        """Paint ``n`` images per strategy (``known``/``mask``: a completion); ``events()`` on the worker replaces
        the plain run (then ``titles``, ``footers`` name its panels and ``order`` = (ordering, name) is its ordering)."""
        if self.model is None:
            self.set_note("The model is still loading (or failed to load); see the note above.")
            return None
        model, label, seed = self.model, self._label(), self.panel.seed.value()
        try:
            check_run(model, strategies, n, known, label)
        except ConfigError as exc:
            self.set_note(f"Not started: {exc}")
            return None
        self.stop()
        titles = titles or [describe(s) for s in strategies]
        sizes = [s.beam_width if s.is_beam else n for s in strategies] * (len(titles) // len(strategies))
        greedy = [s.selector == "greedy" and not s.is_beam for s in strategies] * (len(titles) // len(strategies))
        board = PaintBoard(titles, sizes, model.height, model.width, model.levels, known, mask, greedy=greedy)
        self._show_board(board, footers)
        self.ordering.show(*(order or (self.ordering.order, self.ordering.name)))
        self.throttle.rate = self.panel.speed_limit()
        throttle = self.throttle
        events = events or (lambda: paint_steps(model, strategies, n, seed=seed, known=known, mask=mask, label=label))
        self.job = self.models.worker.submit(
            lambda: throttle.wrap(events()),
            name="Painting digits", key="sampler-paint", cancel_running=True,
            on_event=lambda e: self._on_event(board, e), on_finished=self._on_finished,
            on_error=lambda e: self.set_note(e.text()))
        if step:
            self.job.step()
        busy = self.models.worker.current
        self.set_note(f"Queued behind '{busy.name}'; stop it to paint now."
                      if busy is not None and busy is not self.job and busy.key != "sampler-paint" else "")
        self._update_buttons()
        return self.job

    def _clear_canvas(self) -> None:
        """Forget what the canvas shows (another model's images or lens measurement)."""
        self.board = None
        self.grid.set_panels(["sample"])
        self.bars_for.setVisible(False)
        self.bars.show_probs(None, None, "pixel distributions show while painting")
        self.stats.setText("")

    def _show_board(self, board: PaintBoard, footers: list[str] | None = None) -> None:
        self.board = board
        self.grid.set_panels(board.titles, footers)
        self._fill_bars_for(board.titles, "Bars")
        self._mark_dirty()

    def _finished_note(self, board: PaintBoard) -> None:
        if board.blank_reasons():
            self.set_note(" ".join(board.blank_reasons()))

    def _speed_changed(self, _index: int) -> None:
        self.throttle.rate = self.panel.speed_limit()

    # ------------------------------------------------------------- drawing
    def _render(self) -> None:
        """Redraw from the board if it changed (at most every REDRAW_MS); idle timers stop."""
        board = self._render_due()
        if board is None:
            return
        for p in range(len(board.sizes)):
            self.grid.show_panel(p, board.rgb(p), board.heat(p), board.marks(p))
            self.grid.set_title(p, f"<b>{board.titles[p]}</b><br>{board.summary(p)}")
        self._render_bars(board)
        self.ordering.map.mark(board.pixel if board.finished is None else None)
        if board.finished is not None:
            state = "Done: exact log p(x) of every image from one full pass"
        else:
            state = f"{board.ticks} of {board.total} pixels, now at row {board.pixel[0]}, column {board.pixel[1]}" \
                if board.pixel is not None else "Starting…"
        self.stats.setText(board.caption or f"{state}. Titles: log p in nats and bits/dim, means over each panel's "
                           f"images; heatmaps: −log p of each pixel, black 0 to yellow ≥ {HEAT_MAX:g} nats.")

    def _render_bars(self, board: PaintBoard) -> None:
        p = max(0, min(self.bars_for.currentIndex(), len(board.sizes) - 1))
        if board.probs[p] is not None:
            (r, c), last = board.pixels[p], "last " if board.finished is not None else ""
            self.bars.show_probs(*board.probs[p], f"{last}pixel ({r}, {c}) of {board.titles[p]}, first image")
        elif board.titles[p].startswith("beam"):
            self.bars.show_probs(None, None, "beam search ranks whole images: no per-pixel draw")
        else:
            self.bars.show_probs(None, None, "pixel distributions show while painting")

    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export images", "pixelcnn.png", "PNG images (*.png)")
        if path:
            self.export_png(path)

    def export_png(self, path) -> bool:
        """Write what the canvas shows (every panel, grey, 4x) to ``path``."""
        if self.board is None:
            self.set_note("Nothing to export yet: paint or measure an image first.")
            return False
        try:
            save_png(self.board.grey(), str(path), scale=4)
        except OSError as exc:
            self.set_note(f"Could not save the PNG: {exc}")
            return False
        self.set_note(f"Saved {path}")
        return True

    def set_note(self, text: str) -> None:
        self.note.setText(text)


def model_info(model, ordering: str | None = None) -> str:
    """One line about an image model: kind, values per pixel, size, ordering (``ordering`` when it paints in
    another than its own), conditioning, test NLL from its card."""
    values = "binary pixels" if model.levels == 2 else f"{model.levels} grey levels"
    n = sum(p.numel() for p in model.parameters())
    body = (f"{model.n_layers} gated layers" if hasattr(model, "n_layers")
            else f"{ordering or getattr(model, 'ordering', 'raster')} ordering")
    body += f", {model.n_masks} mask sets" if getattr(model, "n_masks", 1) > 1 else ""
    text = f"{'PixelCNN' if model.kind == 'pixelcnn' else model.kind.upper()}: {values}, {model.height}×{model.width}, {body}, {n:,} weights"
    if model.num_classes:
        text += f", conditioned on the digit (0-{model.num_classes - 1})"
    test = getattr(model, "checkpoint_config", {}).get("metrics", {}).get("test", {})
    if "nll_nats" in test and ordering in (None, getattr(model, "ordering", None)):  # measured in its own ordering
        text += f"; test NLL {test['nll_nats']:.2f} nats"
    return text + "."
