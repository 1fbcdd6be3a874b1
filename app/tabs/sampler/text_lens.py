"""The text mode's likelihood lens: the exact log p of any text, with every character's surprisal.

The text in the lens box is scored on the Sampler's worker (the model's
owner) in one teacher-forced pass, in windows when it is longer than the
context (the result says so); the canvas then shows it tinted like a
generated text, and a click on a character shows its attention. A
character outside the vocabulary is refused in one sentence naming it.
"""

from __future__ import annotations

import math

from app.tabs.sampler.text_board import TextBoard
from app.tabs.sampler.text_panel import EXAMPLES, shuffled_words
from app.worker import once
from engine.data.text import shakespeare_folder
from engine.errors import GenScopeError
from engine.events import Done
from engine.evaluation.text_eval import char_surprisal
from engine.sampling.text_compare import TextFinished

MACBETH = slice(30_000, 30_600)  # a passage of a test play (never trained on)


def windows_note(model, length: int) -> str:
    """A sentence when a text of ``length`` characters is scored in windows (else "")."""
    c = model.context
    if length <= c:
        return ""
    return (f" Longer than the context of {c} characters: scored in windows of {c} moving on by {c // 2}, so each "
            f"character is predicted from the last {c // 2 + 1} to {c} characters before it.")


class TextLens:
    """Talks to its page (``page.model``, ``page.inputs``, ``page.show_board``, ``page.set_note``) by plain calls."""

    def __init__(self, page) -> None:
        self.page = page
        page.inputs.score.clicked.connect(lambda _=False: self.score())
        page.inputs.lens_source.activated.connect(self.fill)

    def model_changed(self) -> None:
        self.page.inputs.lens_result.setText("Score a text to see its exact log p and bits per character.")

    def fill(self, index: int) -> None:
        """Put the chosen example in the box (or shuffle the words in it)."""
        inputs = self.page.inputs
        source = inputs.lens_source.itemText(index)
        if source in EXAMPLES:
            inputs.lens_text.setPlainText(EXAMPLES[source])
        elif source.startswith("Shuffle"):
            inputs.lens_text.setPlainText(shuffled_words(inputs.lens_text.toPlainText()))
        elif source.startswith("Shakespeare"):
            path = shakespeare_folder(self.page.context.data.path) / "macbeth.txt"
            try:
                inputs.lens_text.setPlainText(path.read_text(encoding="utf-8")[MACBETH])
            except OSError:
                inputs.lens_result.setText(f"Macbeth is not in the data folder ({path}); see the README's "
                                           "Shakespeare section to get the works.")

    def score(self) -> None:
        """Score the lens box's text on the worker; refuse an empty text or an unknown character in one sentence."""
        page, inputs = self.page, self.page.inputs
        model, text = page.model, inputs.lens_text.toPlainText()
        if model is None:
            inputs.lens_result.setText("The model is still loading.")
            return
        if not text:
            inputs.lens_result.setText("Type or paste a text into the box first.")
            return
        try:
            ids = model.encode(text)
        except GenScopeError as exc:
            inputs.lens_result.setText(str(exc))
            return
        inputs.lens_result.setText(f"Scoring {len(text):,} characters…")
        page.models.worker.submit(lambda: once(lambda: char_surprisal(model, text)), name="Scoring a text",
                                  key="sampler-text-lens", brief=True,
                                  on_event=lambda e: self._scored(model, ids, e),
                                  on_error=lambda e: inputs.lens_result.setText(e.text()))

    def _scored(self, model, ids, event) -> None:
        if not isinstance(event, Done) or model is not self.page.model:
            return
        nats = event.result
        total, n = float(nats.sum()), len(nats)
        line = f"log p = {-total:.1f} nats, {total / math.log(2) / n:.3f} bits/char over {n:,} characters."
        note = windows_note(model, n)
        self.page.inputs.lens_result.setText(line + (" Scored in windows (see under the text)." if note else ""))
        board = TextBoard(["Likelihood lens"], [], model.vocab, caption=f"Likelihood lens: {line}{note}", total=n)
        board.panels[0].prompt = 0
        board.finish(TextFinished((ids.numpy(),), (nats,), 0))
        self.page.stop()
        self.page.show_board(board)
