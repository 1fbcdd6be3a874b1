"""What the Sampler's text mode shows of one run (GUI thread, numpy only).

A run has P panels (one per strategy), one text each. Per panel the board
keeps the characters so far (prompt first), each one's −log p (NaN until
known: a beam's characters until the end), the top alternatives and the
attention that predicted each sampled character, the running log p of
the generated characters and the current step's distributions. Events only
write numbers; the page redraws from the board on a timer (coalesced).
"""

from __future__ import annotations

import math

import numpy as np

from app.tabs.sampler.text_views import shown
from engine.sampling.decoding import BeamStep
from engine.sampling.text_compare import CharStep, TextFinished, TextTick

ALTERNATIVES = 5  # in a character's tooltip


class TextPanelState:
    """One panel: ``ids`` (prompt, then generated), ``nats`` per character, ``tops`` / ``attention`` per character
    (None where not recorded), ``log_prob`` nats of the generated characters, ``probs`` of the current step."""

    def __init__(self, title: str, prompt: list[int]) -> None:
        self.title, self.prompt = title, len(prompt)
        self.ids = list(prompt)
        self.nats = [math.nan] * len(prompt)
        self.tops: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(prompt)
        self.attention: list[tuple[tuple, int] | None] = [None] * len(prompt)
        self.log_prob = 0.0
        self.probs: tuple[np.ndarray, np.ndarray] | None = None
        self.beam = title.startswith("beam")

    @property
    def generated(self) -> int:
        return len(self.ids) - self.prompt

    def add(self, step: CharStep) -> None:
        """A prompt character (its numbers replace the placeholder) or a new generated one."""
        top = np.argsort(-step.probs_before, kind="stable")[:ALTERNATIVES]
        record = (top, step.probs_before[top])
        if step.index < self.prompt:
            self.nats[step.index], self.tops[step.index] = -step.log_prob, record
            self.attention[step.index] = None if step.attention is None else (step.attention, step.window)
        else:
            self.ids.append(step.value)
            self.nats.append(-step.log_prob)
            self.tops.append(record)
            self.attention.append((step.attention, step.window))
        self.log_prob = step.log_prob_so_far
        self.probs = (step.probs_before, step.probs_after)

    def beam_step(self, event: BeamStep) -> None:
        """The best beam so far replaces the generated characters (their p is known at the end)."""
        best = [int(v) for v in event.sequences[0]]
        del self.ids[self.prompt :], self.nats[self.prompt :], self.tops[self.prompt :], self.attention[self.prompt :]
        self.ids += best
        self.nats += [math.nan] * len(best)
        self.tops += [None] * len(best)
        self.attention += [None] * len(best)
        self.log_prob = float(event.log_probs[0])

    def finish(self, values: np.ndarray, nats: np.ndarray) -> None:
        """The whole text and the exact −log p of every character (teacher forced)."""
        n = len(values)
        self.ids, self.nats = [int(v) for v in values], [float(x) for x in nats]
        self.tops = (self.tops + [None] * n)[:n]
        self.attention = (self.attention + [None] * n)[:n]
        self.log_prob = -float(np.sum(nats[self.prompt :]))


class TextBoard:
    """A run of ``titles`` (P,) panels writing ``total`` characters after the ``prompt`` ids, over ``vocab``."""

    def __init__(self, titles: list[str], prompt: list[int], vocab: str, caption: str = "", total: int = 0) -> None:
        self.titles, self.vocab, self.total = list(titles), vocab, total
        self.panels = [TextPanelState(t, prompt) for t in titles]
        self.ticks = 0
        self.finished: TextFinished | None = None
        self.caption = caption  # replaces the default status line (the lens writes its result here)
        self.selected: tuple[int, int] | None = None  # (panel, character) clicked by the user

    def apply(self, tick: TextTick) -> None:
        self.ticks += 1
        for panel, event in zip(self.panels, tick.events):
            if isinstance(event, BeamStep):
                panel.beam_step(event)
            elif event is not None:
                for step in event:
                    panel.add(step)

    def finish(self, done: TextFinished) -> None:
        self.finished = done
        for p, panel in enumerate(self.panels):
            panel.finish(done.values[p], done.char_nats[p])

    def text(self, p: int) -> str:
        return "".join(self.vocab[i] for i in self.panels[p].ids)

    def summary(self, p: int) -> str:
        """Panel p's log p and bits/char of its generated characters (so far, or exact when finished)."""
        panel = self.panels[p]
        n = panel.generated
        if not n:
            return "nothing generated yet"
        bits = -panel.log_prob / math.log(2) / n
        where = "" if self.finished is not None else "so far "
        return f"{n} characters, log p {where}{panel.log_prob:.1f} nats · {bits:.2f} bits/char"

    def tip(self, p: int, index: int) -> str:
        """The tooltip of character ``index`` of panel p: p, surprisal, and the top alternatives."""
        panel = self.panels[p]
        if not 0 <= index < len(panel.ids):
            return ""
        char, nats = self.vocab[panel.ids[index]], panel.nats[index]
        where = "prompt" if index < panel.prompt else "generated"
        head = f"<b>{shown(char)}</b> (character {index + 1}, {where})"
        if not math.isfinite(nats):
            return head + "<br>p known when the run ends"
        lines = [head, f"p = {math.exp(-nats):.3g}, surprisal {nats / math.log(2):.2f} bits"]
        if panel.tops[index] is not None:
            ids, probs = panel.tops[index]
            lines.append("the model's top choices: " + " · ".join(
                f"{shown(self.vocab[i])} {q:.2f}" for i, q in zip(ids, probs)))
        return "<br>".join(lines)

    @property
    def current(self) -> int | None:
        """The newest character of the first panel (the one whose distribution the bars show)."""
        n = len(self.panels[0].ids)
        return n - 1 if n else None


__all__ = ["TextBoard", "TextPanelState"]
