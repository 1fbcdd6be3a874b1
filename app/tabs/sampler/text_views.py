"""Views of a character model at work: the text tinted by surprisal, the step's top-20 characters, attention strips.

:class:`TextView` paints a text one monospace cell per character, each cell
tinted by the character's surprisal (−log2 p, white 0 bits to red
>= SURPRISE_MAX bits); a click selects a character (``clicked(index)``), a
hover shows ``tip(index)``. :class:`CharBars` is the pixel distribution view
with characters on the axis. :class:`AttentionStrips` shows, for one
character, every head's attention over the text before it; the character
itself and everything after it are greyed: the causal mask.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QFontMetricsF, QImage, QPainter, QPen
from PySide6.QtWidgets import QAbstractScrollArea, QToolTip, QWidget

from app.tabs.sampler.pixel_views import DistributionBars

SURPRISE_MAX = 8.0  # bits at the red end of the tint
TOP = 20  # characters in the bars
_STOPS = ((0.0, (255, 255, 255)), (0.5, (255, 221, 140)), (1.0, (238, 105, 85)))
PROMPT_INK, TEXT_INK, MASKED = QColor(31, 78, 160), QColor(20, 20, 20), QColor(225, 225, 225)
ATTENTION_BLUE = (96, 156, 222)  # the tint of a head's largest weight (dark letters stay readable on it)
LEGEND = ("Tint: surprisal −log₂ p of each character, white 0 bits → red ≥ 8 bits; "
          "<span style='color:#1f4ea0'>blue letters</span>: the prompt. Hover a character for its top "
          "alternatives; click it for its attention.")


def shown(char: str) -> str:
    """A character as drawn in a cell or a tick label (newline, tab and space made visible)."""
    return {"\n": "↵", "\t": "⇥", " ": "␣"}.get(char, char)


def surprisal_colour(nats: float) -> QColor:
    """The tint of a character of −log p = ``nats`` (NaN: not known, no tint)."""
    if not math.isfinite(nats):
        return QColor(0, 0, 0, 0)
    x = min(max(nats / math.log(2) / SURPRISE_MAX, 0.0), 1.0)
    (a, ca), (b, cb) = (_STOPS[0], _STOPS[1]) if x <= 0.5 else (_STOPS[1], _STOPS[2])
    t = (x - a) / (b - a)
    return QColor(*(int(round(u + t * (v - u))) for u, v in zip(ca, cb)))


PALETTE = [surprisal_colour(math.log(2) * SURPRISE_MAX * k / 63) for k in range(64)]
PALETTE_RGBA = np.array([[c.red(), c.green(), c.blue(), 255] for c in PALETTE], np.uint8)
INKS = (QColor(150, 150, 150), PROMPT_INK, TEXT_INK)


def rgba_image(rgba: np.ndarray) -> QImage:
    """(h, w, 4) uint8 RGBA -> a QImage owning a copy."""
    h, w, _ = rgba.shape
    return QImage(np.ascontiguousarray(rgba).data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()  # newline and tab glyphs, the prompt, generated text


def shade_index(nats: np.ndarray) -> np.ndarray:
    """(n,) int: each character's tint in PALETTE (−1: not known, no tint)."""
    nats = np.asarray(nats, float)
    bits = np.nan_to_num(nats, nan=0.0) / math.log(2)
    return np.where(np.isfinite(nats), np.clip(np.rint(bits / SURPRISE_MAX * 63), 0, 63), -1).astype(int)


def advance(font: QFont) -> float:
    """The exact (fractional) advance of one character of a fixed-width ``font``, px."""
    return max(QFontMetricsF(font).horizontalAdvance("M"), 1.0)


def mono_font(points: int = 10) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setPointSize(points)
    return font


class TextView(QAbstractScrollArea):
    """A text, wrapped at the view's width, one tinted cell per character; follows its end while it grows."""

    clicked = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.setFont(mono_font())
        self.setMinimumSize(120, 80)
        self.viewport().setMouseTracking(True)
        self.text, self.nats = "", np.zeros(0)
        self.prompt = 0
        self.selected: int | None = None
        self.tip: Callable[[int], str] | None = None
        self._cells: list[tuple[int, int]] = []  # (line, column) of every character
        self._lines: list[int] = []  # the line of every character
        self._cols = 0
        self.follow = True

    # ------------------------------------------------------------------ content
    def set_text(self, text: str, nats: np.ndarray, prompt: int, selected: int | None = None) -> None:
        """``text`` with −log p ``nats`` (len(text),) (NaN: unknown); the first ``prompt`` characters are the prompt."""
        grown = text.startswith(self.text)
        self.text, self.nats, self.prompt, self.selected = text, np.asarray(nats, float), prompt, selected
        self._layout(keep=len(self._cells) if grown else 0)
        if self.follow:
            self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())
        self.viewport().update()

    def _metrics(self) -> tuple[float, int]:
        """(cell width, line height): the width is the font's exact advance, so a run drawn as one string lines up
        with its cells."""
        return advance(self.font()), self.fontMetrics().height() + 2

    def _layout(self, keep: int = 0) -> None:
        cw, lh = self._metrics()
        cols = max(int(self.viewport().width() // cw), 1)
        if cols != self._cols:
            self._cols, keep = cols, 0
        cells = self._cells[:keep]
        line, col = cells[-1] if cells else (0, -1)
        for i in range(len(cells), len(self.text)):
            col += 1
            if col >= cols or (i and self.text[i - 1] == "\n"):
                line, col = line + 1, 0
            cells.append((line, col))
        self._cells = cells
        self._lines = [c[0] for c in cells]
        lines = (cells[-1][0] + 1) if cells else 0
        bar = self.verticalScrollBar()
        bar.setRange(0, max(lines * lh - self.viewport().height(), 0))
        bar.setPageStep(self.viewport().height())
        bar.setSingleStep(lh)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._layout()

    # ------------------------------------------------------------------ painting
    def paintEvent(self, _event) -> None:
        """Tints in runs of equal shade, letters in runs of equal ink: a few calls per line, not three per character."""
        cw, lh = self._metrics()
        top = self.verticalScrollBar().value()
        shown_chars = self._visible(top // lh, (top + self.viewport().height()) // lh)
        painter = QPainter(self.viewport())
        painter.fillRect(self.viewport().rect(), Qt.GlobalColor.white)
        painter.setFont(self.font())
        if len(shown_chars):
            lo, hi = shown_chars.start, shown_chars.stop
            nats = np.full(hi - lo, np.nan)
            known = self.nats[lo : min(hi, len(self.nats))]
            nats[: len(known)] = known
            self._paint_tints(painter, lo, hi, shade_index(nats), cw, lh, top)
            inks = [0 if self.text[i] in "\n\t" else (1 if i < self.prompt else 2) for i in shown_chars]
            ascent = self.fontMetrics().ascent() + 1
            for i, j, ink in self._runs(lo, hi, inks):
                line, col = self._cells[i]
                painter.setPen(INKS[ink])
                painter.drawText(QPointF(col * cw, line * lh - top + ascent), "".join(
                    shown(c) if c in "\n\t" else c for c in self.text[i:j]))
        if self.selected is not None and self.selected < len(self._cells):
            line, col = self._cells[self.selected]
            painter.setPen(QPen(QColor(214, 39, 40), 2))
            painter.drawRect(QRectF(col * cw, line * lh - top, cw, lh).adjusted(1, 1, -1, -1))
        painter.end()

    def _paint_tints(self, painter: QPainter, lo: int, hi: int, shades: np.ndarray, cw: float, lh: int,
                     top: int) -> None:
        """Every visible character's tint in one call: a (lines, columns) image of PALETTE colours, scaled up to the
        cells (few Qt calls per frame keep the GUI thread quick while the worker holds the interpreter)."""
        first = self._cells[lo][0]
        lines = self._cells[hi - 1][0] - first + 1
        rgba = np.zeros((lines, self._cols, 4), np.uint8)
        cells = np.array(self._cells[lo:hi])
        known = shades >= 0
        rgba[cells[known, 0] - first, cells[known, 1]] = PALETTE_RGBA[shades[known]]
        painter.drawImage(QRectF(0, first * lh - top, self._cols * cw, lines * lh), rgba_image(rgba))

    def _runs(self, lo: int, hi: int, keys) -> list[tuple[int, int, int]]:
        """(start, stop, key) of the runs of characters lo .. hi on one line with equal ``keys[i - lo]``."""
        out, start = [], lo
        for i in range(lo + 1, hi + 1):
            if i == hi or keys[i - lo] != keys[start - lo] or self._cells[i][0] != self._cells[start][0]:
                out.append((start, i, int(keys[start - lo])))
                start = i
        return out

    def _visible(self, first: int, last: int) -> range:
        """Indices of the characters on lines ``first`` .. ``last`` (the cells are in line order)."""
        lines = self._lines
        return range(bisect.bisect_left(lines, first), bisect.bisect_right(lines, last))

    # ------------------------------------------------------------------ mouse
    def index_at(self, pos: QPoint) -> int | None:
        """The character under viewport point ``pos``, or None."""
        cw, lh = self._metrics()
        line, col = (pos.y() + self.verticalScrollBar().value()) // lh, int(pos.x() // cw)
        for i in self._visible(line, line):
            if self._cells[i][1] == col:
                return i
        return None

    def cell_centre(self, index: int) -> QPoint:
        """Viewport point in the middle of character ``index`` (for tests and tooltips)."""
        cw, lh = self._metrics()
        line, col = self._cells[index]
        return QPoint(int(col * cw + cw / 2), line * lh - self.verticalScrollBar().value() + lh // 2)

    def scroll_to(self, index: int) -> None:
        """Scroll so that character ``index`` is on screen (and stop following the end)."""
        _, lh = self._metrics()
        y = self._cells[index][0] * lh
        bar = self.verticalScrollBar()
        if not bar.value() <= y <= bar.value() + self.viewport().height() - lh:
            bar.setValue(max(y - self.viewport().height() // 2, 0))
        self.follow = bar.value() >= bar.maximum()

    def mousePressEvent(self, event) -> None:
        index = self.index_at(event.position().toPoint())
        if index is not None and event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(index)

    def wheelEvent(self, event) -> None:
        super().wheelEvent(event)
        self.follow = self.verticalScrollBar().value() >= self.verticalScrollBar().maximum()

    def viewportEvent(self, event) -> bool:
        if event.type() == event.Type.ToolTip:
            index = self.index_at(event.pos())
            text = self.tip(index) if index is not None and self.tip is not None else ""
            if text:
                QToolTip.showText(event.globalPos(), text, self.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)


class CharBars(DistributionBars):
    """The current step's top 20 characters: the model's p (grey), after the strategy (blue), cut away (red)."""

    def show_chars(self, before: np.ndarray | None, after: np.ndarray | None, vocab: str, title: str = "") -> None:
        """before, after: (V,) probabilities over ``vocab`` (None clears)."""
        if before is None:
            self.show_probs(None, None, title)
            self.plot_item.getAxis("bottom").setTicks([[]])
            return
        top = np.argsort(-before, kind="stable")[:TOP]
        self.show_probs(before[top], after[top], title)
        ticks = [(i, shown(vocab[j])) for i, j in enumerate(top)]
        self.plot_item.getAxis("bottom").setTicks([ticks])
        self.plot_item.setLabel("bottom", f"the model's top {len(top)} characters")


class AttentionStrips(QWidget):
    """Every head's attention, for one character, over the characters before it: one strip of tints per head."""

    def __init__(self) -> None:
        super().__init__()
        self.setFont(mono_font(9))
        self.setMinimumSize(200, 100)
        self.text, self.index, self.att, self.first, self.title = "", None, None, 0, ""
        self.setToolTip("Each row is one attention head: the darker the blue, the more weight the character got "
                        "(each row scaled to its largest weight). Grey: after the character, which no head can see.")

    def show_attention(self, text: str, index: int | None, att: np.ndarray | None, window: int = 0,
                       title: str = "") -> None:
        """``att`` (H, m): the attention that predicted character ``index`` of ``text`` over inputs ``window`` ..
        ``index`` (input 0 is the start of the text, input j >= 1 is character j - 1); None clears."""
        self.text, self.index, self.first, self.title = text, index, window, title
        self.att = None if att is None else np.asarray(att, np.float32)
        self.update()

    def weight(self, head: int, char: int) -> float | None:
        """The weight head ``head`` gave character ``char`` (None: outside its window or not before the index)."""
        k = char + 1 - self.first
        if self.att is None or self.index is None or char >= self.index or k < 0:
            return None
        return float(self.att[head, k])

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.white)
        fm = self.fontMetrics()
        cw, lh = advance(self.font()), fm.height() + 3
        painter.setPen(QColor(40, 40, 40))
        head = 2 * lh  # the title, wrapped on up to two lines
        painter.drawText(QRect(2, 0, self.width() - 4, head), Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap,
                         self.title)
        if self.att is None or self.index is None:
            painter.end()
            return
        label = 4 * fm.horizontalAdvance("M")
        cols = max(int((self.width() - label - 4) // cw), 8)
        after = min(6, cols // 6)
        start = max(0, min(self.index + 1 + after, len(self.text)) - cols)
        heads = self.att.shape[0]
        row_h = max(min((self.height() - head) // heads, lh + 4), 8)
        painter.setPen(QColor(90, 90, 90))
        for h in range(heads):
            painter.drawText(QRect(0, head + h * row_h, label, row_h), Qt.AlignmentFlag.AlignVCenter, f"h{h + 1}")
        self._strips(painter, start, min(start + cols, len(self.text)), QRectF(label, head, cw, row_h), row_h)
        painter.end()

    def _strips(self, painter: QPainter, start: int, stop: int, cell: QRectF, row_h: int) -> None:
        """Every head's row: tints (white to blue by weight, each row scaled to its largest; grey where masked) drawn
        as one image, then each row's letters in one call."""
        heads, cols = self.att.shape[0], stop - start
        chars = np.arange(start, stop)
        k = chars + 1 - self.first
        seen = (chars < self.index) & (k >= 0)
        weights = np.zeros((heads, cols), np.float32)
        weights[:, seen] = self.att[:, k[seen]]
        share = weights / np.maximum(self.att.max(1, keepdims=True), 1e-12)
        blue = np.array(ATTENTION_BLUE, np.float32)
        rgb = 255 + np.clip(share, 0, 1)[..., None] * (blue - 255)
        rgb[:, ~seen] = MASKED.red()
        rgba = np.concatenate([rgb, np.full((heads, cols, 1), 255, np.float32)], -1).astype(np.uint8)
        painter.drawImage(QRectF(cell.left(), cell.top(), cols * cell.width(), heads * row_h), rgba_image(rgba))
        text = "".join(shown(c) if c in "\n\t" else c for c in self.text[start:stop])
        ascent = (row_h + self.fontMetrics().ascent() - self.fontMetrics().descent()) / 2
        painter.setPen(TEXT_INK)
        for h in range(heads):
            painter.drawText(QPointF(cell.left(), cell.top() + h * row_h + ascent), text)
        if start <= self.index < stop:
            painter.setPen(QPen(QColor(214, 39, 40), 2))
            x = cell.left() + (self.index - start) * cell.width()
            painter.drawRect(QRectF(x, cell.top(), cell.width(), heads * row_h).adjusted(1, 1, -1, -1))


__all__ = ["AttentionStrips", "CharBars", "LEGEND", "SURPRISE_MAX", "TextView", "shown", "surprisal_colour"]
