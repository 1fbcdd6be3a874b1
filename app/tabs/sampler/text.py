"""The Sampler's text mode: watch a character Transformer write, step by step, with its distribution and attention.

A run is one engine generator (:func:`engine.sampling.text_compare.text_steps`)
on the Sampler's worker (the model's owner): a tick per new character of
every panel (one panel per strategy, all from the same seed), then the
exact log p of every character. Events only write into a
:class:`~app.tabs.sampler.text_board.TextBoard`; a 30 ms timer redraws from
it when it changed. Start, Pause/Resume, Step (one character, then hold)
and Stop use the worker's cooperative job controls. Under the text: the
current step's top-20 characters and, for the current or a clicked
character, each head's attention over the text before it. The likelihood
lens is :mod:`~app.tabs.sampler.text_lens`.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.tabs.sampler.image import Throttle
from app.tabs.sampler.model_choice import ModelChoice
from app.tabs.sampler.stepping import SteppedRun
from app.tabs.sampler.strategy_box import describe
from app.tabs.sampler.text_board import TextBoard
from app.tabs.sampler.text_lens import TextLens
from app.tabs.sampler.text_panel import TextInputs, TextPanel
from app.tabs.sampler.text_views import LEGEND, AttentionStrips, CharBars, TextView, shown
from app.widgets import with_side_panel
from app.worker import Job, once
from engine.catalog import kinds_for
from engine.errors import ConfigError, GenScopeError
from engine.events import Done
from engine.sampling.text_compare import TextFinished, TextTick, attention_at, check_text_run, prompt_note, text_steps

REDRAW_MS = 30
PLOTS_S = 0.1  # while text streams, the bars and attention strips redraw at most this often (the text every frame)


class TextSamplerPage(SteppedRun, QWidget):
    """Prompt or lens box, the text panels, the bars and attention strips on the left; the panel on the right."""

    TICK, FINISHED, UNIT = TextTick, TextFinished, "characters"

    def __init__(self, context) -> None:
        super().__init__()
        self.context = context
        self.model = None
        self.job: Job | None = None
        self.finished_job: Job | None = None
        self.board: TextBoard | None = None
        self.dirty, self.redraws = False, 0
        self.plots_at = 0.0  # when the bars and strips were last drawn
        self.throttle = Throttle()
        self.panel, self.inputs = TextPanel(), TextInputs()
        self.views: list[TextView] = []
        self.titles: list[QLabel] = []
        self.bars, self.strips = CharBars(), AttentionStrips()
        self.bars_for, self.layer = QComboBox(), QComboBox()
        self.bars_for.setToolTip("Whose current character the bars and the attention show")
        self.layer.setToolTip("Which layer's attention heads the strips show")
        self.stats, self.note = QLabel(), QLabel()
        for label in (self.stats, self.note):
            label.setWordWrap(True)
        self.timer = QTimer(self, interval=REDRAW_MS)
        self.timer.timeout.connect(self._render)
        self._layout()
        self._connect()
        self.lens = TextLens(self)
        self._clear()
        self.models = ModelChoice(context, self.panel.model, kinds_for("text"), self._model_loaded, self.set_note,
                                  worker=context.sampler)
        self.models.add_bundled("transformer", "Transformer, Shakespeare",
                                "Open a Transformer checkpoint with File › Open checkpoint.")

    def _layout(self) -> None:
        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.inputs)
        self.text_row = QHBoxLayout()
        col.addLayout(self.text_row, 3)
        grid = QGridLayout()
        choose = QHBoxLayout()
        choose.addWidget(self.bars_for, 1)
        choose.addStretch(0)
        choose.addWidget(QLabel("Attention of"))
        choose.addWidget(self.layer)
        grid.addLayout(choose, 0, 0, 1, 2)
        grid.addWidget(self.bars, 1, 0)
        grid.addWidget(self.strips, 1, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        col.addLayout(grid, 2)
        col.addWidget(self.stats)
        col.addWidget(self.note)
        QHBoxLayout(self).addWidget(with_side_panel(left, self.panel, 350))

    def _connect(self) -> None:
        p = self.panel
        self._connect_run_buttons()
        p.speed.currentIndexChanged.connect(lambda _: setattr(self.throttle, "rate", self.panel.speed_limit()))
        self.bars_for.currentIndexChanged.connect(lambda _: self._mark_dirty())
        self.layer.currentIndexChanged.connect(lambda _: self._mark_dirty())

    # ------------------------------------------------------------- models
    def accepts_checkpoint(self, config: dict) -> bool:
        return config.get("kind") in kinds_for("text")

    def open_checkpoint(self, path, config: dict) -> None:
        self.models.add_opened(path)

    def _model_loaded(self, model, path: Path) -> None:
        """A new model: the old one's text, bars, attention and lens result are stale."""
        self.stop()
        self.model = model
        self.layer.blockSignals(True)
        self.layer.clear()
        self.layer.addItems([f"layer {i + 1}" for i in range(model.n_layers)])
        self.layer.setCurrentIndex(model.n_layers - 1)
        self.layer.blockSignals(False)
        self.panel.model_info.setText(model_info(model))
        self._clear()
        self.lens.model_changed()

    def _clear(self) -> None:
        self.board = None
        self._set_views(["text"])
        self.views[0].set_text("", [], 0)
        self.bars_for.setVisible(False)
        self.bars.show_chars(None, None, "", "each new character's distribution shows while writing")
        self.strips.show_attention("", None, None, title="Attention: press Start, or click a character")
        self.stats.setText(LEGEND)

    # --------------------------------------------------------------- runs
    def start(self, step: bool = False) -> Job | None:
        """Write after the prompt in the chosen mode; a bad setting or prompt is refused here with the reason."""
        model, prompt = self.model, self.inputs.prompt_text()
        if model is None:
            self.set_note("The model is still loading (or failed to load); see the note above.")
            return None
        try:
            strategies = self.panel.strategies()
            if self.panel.mode.currentText() == "Compare strategies" and len(strategies) < 2:
                raise ConfigError("Compare needs 2 to 4 strategies: pick one above and press Add strategy.")
            new, seed = self.panel.length.value(), self.panel.seed.value()
            check_text_run(model, prompt, new, strategies)
        except GenScopeError as exc:
            self.set_note(f"Not started: {exc}")
            return None
        self.stop()
        board = TextBoard([describe(s) for s in strategies], model.encode(prompt).tolist(), model.vocab, total=new)
        self.show_board(board)
        self.throttle.rate = self.panel.speed_limit()
        throttle = self.throttle
        self.job = self.models.worker.submit(
            lambda: throttle.wrap(text_steps(model, prompt, new, strategies, seed=seed)),
            name="Writing text", key="sampler-text", cancel_running=True, paced=True,
            on_event=lambda e: self._on_event(board, e), on_finished=self._on_finished,
            on_error=lambda e: self.set_note(e.text()))
        if step:
            self.job.step()
        self.set_note(prompt_note(model, prompt))
        self._update_buttons()
        return self.job

    def show_board(self, board: TextBoard) -> None:
        """Show ``board`` (a run, or the lens's scored text) in fresh panels."""
        self.board = board
        self._set_views(board.titles)
        self._fill_bars_for(board.titles, "Bars and attention")
        self._mark_dirty()

    def _set_views(self, titles: list[str]) -> None:
        while self.text_row.count():
            item = self.text_row.takeAt(0)
            old = item.widget()
            if old is not None:  # gone at once (deleteLater alone leaves it painted until the loop idles)
                old.hide()
                old.setParent(None)
                old.deleteLater()
        self.views, self.titles = [], []
        for p, title in enumerate(titles):
            box = QWidget()
            col = QVBoxLayout(box)
            col.setContentsMargins(0, 0, 0, 0)
            label = QLabel(f"<b>{title}</b>")
            label.setWordWrap(True)
            view = TextView()
            view.tip = lambda i, p=p: self.board.tip(p, i) if self.board is not None else ""
            view.clicked.connect(lambda i, p=p: self.select(p, i))
            col.addWidget(label)
            col.addWidget(view, 1)
            self.text_row.addWidget(box, 1)
            self.views.append(view)
            self.titles.append(label)

    # --------------------------------------------------------- attention
    def select(self, panel: int, index: int) -> None:
        """Show the attention that predicted character ``index`` of ``panel`` (a click on it)."""
        if self.board is None:
            return
        self.board.selected = (panel, index)
        self.plots_at = 0.0  # the plots show the click at the next frame, even while text streams
        if self.bars_for.currentIndex() != panel and panel < self.bars_for.count():
            self.bars_for.setCurrentIndex(panel)
        state = self.board.panels[panel]
        if state.attention[index] is None and self.model is not None:
            model, board, ids = self.model, self.board, list(state.ids)
            self.models.worker.submit(lambda: once(lambda: attention_at(model, ids, index)),
                                      name="Reading attention", key="sampler-text-attention", brief=True,
                                      on_event=lambda e: self._attention_ready(board, panel, index, e))
        self._mark_dirty()

    def _attention_ready(self, board: TextBoard, panel: int, index: int, event) -> None:
        if isinstance(event, Done) and index < len(board.panels[panel].attention):
            board.panels[panel].attention[index] = event.result
            self.plots_at = 0.0
            self._mark_dirty()

    # ------------------------------------------------------------- drawing
    def _render(self) -> None:
        """Redraw from the board if it changed (at most every REDRAW_MS); idle timers stop."""
        board = self._render_due()
        if board is None:
            return
        chosen = board.selected
        for p, (view, label) in enumerate(zip(self.views, self.titles)):
            state = board.panels[p]
            mark = chosen[1] if chosen is not None and chosen[0] == p else None
            view.set_text(board.text(p), state.nats, state.prompt, mark)
            label.setText(f"<b>{board.titles[p]}</b> · {board.summary(p)}")
        now = time.perf_counter()
        streaming = self.running() and not self.job.paused
        if streaming and now - self.plots_at < PLOTS_S:
            self.dirty = True  # the plots are owed: the next frame looks again
            return
        self.plots_at = now
        self._render_bars(board)
        self._render_attention(board)
        self.stats.setText(board.caption or LEGEND)

    def _shown_panel(self, board: TextBoard) -> int:
        return max(0, min(self.bars_for.currentIndex(), len(board.panels) - 1))

    def _render_bars(self, board: TextBoard) -> None:
        p = self._shown_panel(board)
        state = board.panels[p]
        if state.probs is not None:
            last = "last " if board.finished is not None else ""
            self.bars.show_chars(*state.probs, board.vocab, f"{last}character {len(state.ids)} "
                                 f"({shown(board.vocab[state.ids[-1]])}), {board.titles[p]}")
        elif state.beam and board.finished is None:
            self.bars.show_chars(None, None, "", "beam search ranks whole texts: no per-character draw")
        else:
            self.bars.show_chars(None, None, "", "each new character's distribution shows while writing")

    def _render_attention(self, board: TextBoard) -> None:
        p = self._shown_panel(board)
        state = board.panels[p]
        chosen = board.selected
        index = chosen[1] if chosen is not None and chosen[0] == p else (len(state.ids) - 1 if state.ids else None)
        record = state.attention[index] if index is not None else None
        layer = max(self.layer.currentIndex(), 0)
        text = board.text(p)
        if index is None:
            self.strips.show_attention(text, None, None, title="Attention: press Start, or click a character")
        elif record is None:
            what = "computing…" if chosen is not None else "click a character to see its attention"
            self.strips.show_attention(text, None, None, title=f"Attention for character {index + 1}: {what}")
        else:
            maps, window = record
            self.strips.show_attention(text, index, maps[layer], window, title=(
                f"Layer {layer + 1}: what each head looked at to predict character {index + 1} "
                f"({shown(text[index])}); grey: after it, unseen"))

    def set_note(self, text: str) -> None:
        self.note.setText(text)


def model_info(model) -> str:
    """One line about a character model: size, context, vocabulary, test bits/char from its card."""
    n = sum(p.numel() for p in model.parameters())
    text = (f"Transformer: {model.n_layers} layers × {model.heads} heads, width {model.width}, context "
            f"{model.context} characters, {len(model.vocab)} characters in its vocabulary, {n:,} weights")
    test = (getattr(model, "checkpoint_config", {}) or {}).get("metrics", {}).get("test", {})
    if "bits_per_char" in test:
        text += f"; test {test['bits_per_char']:.3f} bits/char"
    return text + "."
