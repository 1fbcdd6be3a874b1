"""Sampler tab, text mode, driven with pytest-qt: write, step, stop, strategies, compare, attention, lens."""

import math

import numpy as np
import pytest
import torch
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolTip

from app.tabs.sampler.text_panel import SPEEDS
from engine.checkpoints import save_checkpoint
from engine.models.transformer import CharTransformer
from engine.sampling.decoding import make_strategy
from engine.sampling.text import generate_text
from tests.app import gui
from tests.app.test_fit import clipped, unreachable
from tests.app.gui import open_checkpoint_from_menu, open_tab, press, type_into

VOCAB = "".join(sorted(set("ROMEO:\nJULIET, the quick brown fox; jumps over a lazy dog! Why?'")))
FASTEST = len(SPEEDS) - 1


def tiny_model(seed: int = 0, context: int = 32) -> CharTransformer:
    torch.manual_seed(seed)
    return CharTransformer(VOCAB, context=context, layers=2, heads=2, width=16).eval()


@pytest.fixture
def tiny_path(tmp_path):
    m = tiny_model()
    return save_checkpoint(tmp_path / "tiny_text.safetensors", m.state_dict(),
                           {"kind": "transformer", "hparams": m.hparams()})


@pytest.fixture
def page(qtbot, make_window, tiny_path, monkeypatch):
    window = make_window()
    window.resize(1200, 800)
    tab = open_tab(qtbot, window, "sampler")
    open_checkpoint_from_menu(qtbot, window, monkeypatch, tiny_path)
    page = tab.text
    qtbot.waitUntil(lambda: page.model is not None, timeout=20000)
    assert tab.stack.currentWidget() is page
    gui.choose(qtbot, page.panel.speed, SPEEDS[FASTEST][0])
    return page


def type_text(qtbot, field, text):
    """Select all in a text box and type ``text`` (Return for each newline)."""
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    for i, line in enumerate(text.split("\n")):
        if i:
            qtbot.keyClick(field, Qt.Key.Key_Return)
        qtbot.keyClicks(field, line)
    assert field.toPlainText() == text


def paste(qtbot, field, text):
    """Paste ``text`` at the cursor of a text box with Ctrl+V (how a user enters a character the keyboard lacks)."""
    QApplication.clipboard().setText(text)
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)


def prompt(qtbot, page, text):
    """Click the Prompt tab and type ``text`` into the prompt box."""
    bar = page.inputs.tabBar()
    qtbot.mouseClick(bar, gui.LEFT, gui.NO_MOD, bar.tabRect(0).center())
    type_text(qtbot, page.inputs.prompt, text)


def start(qtbot, page, name="Start"):
    before = page.job
    press(qtbot, page.panel.buttons[name])
    return page.job if page.job is not before else None


def wait_done(qtbot, page, timeout=30000):
    qtbot.waitUntil(lambda: page.job is not None and page.finished_job is page.job, timeout=timeout)
    qtbot.waitUntil(lambda: not page.dirty, timeout=2000)


def choose(qtbot, panel, strategy, **params):
    if panel.strategy_name.currentText() != strategy:
        gui.choose(qtbot, panel.strategy_name, strategy)
    for key, value in params.items():
        type_into(qtbot, panel.params[key], str(value))


def test_start_writes_the_engines_text_with_tints_bars_and_attention(qtbot, page):
    panel = page.panel
    prompt(qtbot, page, "ROMEO:\n")
    choose(qtbot, panel, "top-p", top_p="0.9")
    type_into(qtbot, panel.seed, "7")
    type_into(qtbot, panel.length, "60")
    assert start(qtbot, page) is not None
    wait_done(qtbot, page)
    expected = generate_text(page.model, "ROMEO:\n", 60, strategy=make_strategy("top-p", top_p=0.9), seed=7)[0]
    assert page.board.text(0) == expected
    view, state = page.views[0], page.board.panels[0]
    assert view.text == expected and len(state.nats) == len(expected)
    assert np.all(np.isfinite(state.nats))  # every character tinted, the prompt's too
    lp = -sum(state.nats[7:])
    assert "bits/char" in page.titles[0].text() and f"{lp:.1f}" in page.titles[0].text()
    assert "ROMEO" not in page.note.text()
    # the bars: the last step's top 20 characters
    assert len(page.bars.model_bars.opts["x"]) + len(page.bars.cut_bars.opts["x"]) == 20
    # hovering a generated character: its p, surprisal and the model's top alternatives
    port = view.viewport()
    pos = view.cell_centre(10)
    QTest.mouseMove(port, pos)
    QApplication.sendEvent(port, QHelpEvent(QEvent.Type.ToolTip, pos, port.mapToGlobal(pos)))
    tip = QToolTip.text()
    assert "top choices" in tip and "surprisal" in tip and "character 11, generated" in tip


def test_step_adds_exactly_one_character_and_pause_stop(qtbot, page):
    prompt(qtbot, page, "JULIET:")
    type_into(qtbot, page.panel.length, "200")
    gui.choose(qtbot, page.panel.speed, SPEEDS[0][0])  # 10 characters/s
    job = start(qtbot, page, "Step")
    qtbot.waitUntil(lambda: page.board is not None and page.board.ticks == 1 and job.paused, timeout=10000)
    qtbot.waitUntil(lambda: not page.dirty, timeout=2000)
    assert len(page.board.text(0)) == len("JULIET:") + 1
    for n in (2, 3):
        press(qtbot, page.panel.buttons["Step"])
        qtbot.waitUntil(lambda: page.board.ticks == n and job.paused, timeout=10000)
    qtbot.wait(150)
    assert len(page.board.text(0)) == len("JULIET:") + 3 and page.views[0].text == page.board.text(0)
    assert page.panel.buttons["Pause"].text() == "Resume"
    press(qtbot, page.panel.buttons["Pause"])  # resume at 10 characters/s
    qtbot.waitUntil(lambda: page.board.ticks >= 5, timeout=10000)
    press(qtbot, page.panel.buttons["Stop"])
    qtbot.waitUntil(lambda: page.finished_job is job, timeout=10000)
    assert "Stopped after" in page.note.text() and page.board.ticks < 200


def test_clicking_a_character_shows_its_attention_and_nothing_to_the_right(qtbot, page):
    prompt(qtbot, page, "ROMEO: the quick brown fox jumps over the lazy dog")  # past the context of 32
    type_into(qtbot, page.panel.length, "30")
    start(qtbot, page)
    wait_done(qtbot, page)
    assert "longer than the model's context" in page.note.text()
    view = page.views[0]
    target = 40
    view.scroll_to(target)
    qtbot.wait(20)
    qtbot.mouseClick(view.viewport(), gui.LEFT, gui.NO_MOD, view.cell_centre(target))
    qtbot.waitUntil(lambda: page.strips.index == target, timeout=5000)
    assert view.selected == target
    strips = page.strips
    heads = strips.att.shape[0]
    assert heads == 2
    for h in range(heads):
        assert all(strips.weight(h, j) is None for j in range(target, len(view.text)))  # the causal mask
        seen = [strips.weight(h, j) for j in range(target)]
        assert sum(w for w in seen if w is not None) <= 1.0 + 1e-3
        assert seen[0] is None  # outside the window of 32 inputs
    from engine.sampling.text_compare import attention_at
    maps, window = attention_at(page.model, page.model.encode(view.text).numpy(), target)
    np.testing.assert_allclose(strips.att, maps[page.layer.currentIndex()].astype(np.float32), atol=2e-3)
    assert strips.first == window


def test_compare_strategies_side_by_side_from_one_seed(qtbot, page):
    panel = page.panel
    gui.choose(qtbot, panel.mode, "Compare strategies")
    press(qtbot, panel.compare.clear)
    for name, params in (("greedy", {}), ("top-p", {"top_p": "0.9"}), ("beam", {"beam_width": "3"})):
        choose(qtbot, panel, name, **params)
        press(qtbot, panel.compare.add)
    type_into(qtbot, panel.seed, "3")
    type_into(qtbot, panel.length, "25")
    prompt(qtbot, page, "ROMEO:")
    start(qtbot, page)
    wait_done(qtbot, page)
    assert len(page.views) == 3 and [page.board.titles[i] for i in range(3)] == ["greedy", "top-p 0.9", "beam 3"]
    for p, strategy in enumerate(panel.compare.strategies[:2]):
        assert page.board.text(p) == generate_text(page.model, "ROMEO:", 25, strategy=strategy, seed=3)[0]
    beam = page.board.panels[2]
    assert len(beam.ids) == 6 + 25 and np.all(np.isfinite(beam.nats))
    assert page.bars_for.isVisible()
    # greedy and beam: the most probable texts are at least as probable as top-p's
    assert beam.log_prob >= page.board.panels[1].log_prob
    # a beam's character was not drawn step by step: a click reads its attention from one pass over its window
    view = page.views[2]
    view.scroll_to(20)
    qtbot.wait(20)
    qtbot.mouseClick(view.viewport(), gui.LEFT, gui.NO_MOD, view.cell_centre(20))
    qtbot.waitUntil(lambda: page.strips.index == 20, timeout=5000)
    assert page.bars_for.currentIndex() == 2
    from engine.sampling.text_compare import attention_at
    maps, _ = attention_at(page.model, beam.ids, 20)
    np.testing.assert_allclose(page.strips.att, maps[page.layer.currentIndex()].astype(np.float32), atol=1e-3)


def test_unknown_prompt_character_is_refused_by_name(qtbot, page):
    prompt(qtbot, page, "ROMEO: ")
    paste(qtbot, page.inputs.prompt, "Ωmega")
    assert start(qtbot, page) is None
    assert "'Ω'" in page.note.text() and "vocabulary" in page.note.text()


def test_lens_scores_a_text_exactly_and_names_an_unknown_character(qtbot, page):
    bar = page.inputs.tabBar()
    qtbot.mouseClick(bar, gui.LEFT, gui.NO_MOD, bar.tabRect(1).center())
    field = page.inputs.lens_text
    text = "JULIET: the lazy dog jumps over the quick brown fox, why? " * 2  # 118 characters > context 32
    type_text(qtbot, field, text)
    press(qtbot, page.inputs.score)
    qtbot.waitUntil(lambda: "log p =" in page.inputs.lens_result.text(), timeout=10000)
    qtbot.waitUntil(lambda: not page.dirty, timeout=2000)
    with torch.no_grad():
        exact = float(page.model.log_prob(page.model.encode(text)[None])[0])
    result = page.inputs.lens_result.text()
    assert f"{exact:.1f} nats" in result and "windows" in result and "windows of 32" in page.stats.text()
    bits = -exact / math.log(2) / len(text)
    assert f"{bits:.3f} bits/char" in result
    assert page.views[0].text == text and np.all(np.isfinite(page.views[0].nats))
    window = page.window()
    assert (window.width(), window.height()) == (1200, 800) and clipped(window) == []
    lens = {"text": field, "examples": page.inputs.lens_source, "Score": page.inputs.score,
            "result": page.inputs.lens_result}
    assert {name: why for name, w in lens.items() if (why := unreachable(window, w))} == {}
    paste(qtbot, field, "é")
    press(qtbot, page.inputs.score)
    assert "'é'" in page.inputs.lens_result.text() and "vocabulary" in page.inputs.lens_result.text()


def test_switching_models_clears_the_old_text(qtbot, page, tmp_path, monkeypatch):
    type_into(qtbot, page.panel.length, "20")
    start(qtbot, page)
    wait_done(qtbot, page)
    assert page.views[0].text
    other = tiny_model(seed=1)
    path = save_checkpoint(tmp_path / "other.safetensors", other.state_dict(),
                           {"kind": "transformer", "hparams": other.hparams()})
    old = page.model
    open_checkpoint_from_menu(qtbot, page.window(), monkeypatch, path)
    qtbot.waitUntil(lambda: page.model is not old and page.model is not None, timeout=20000)
    assert page.board is None and page.views[0].text == "" and page.strips.att is None
    assert page.bars.model_bars.opts["x"] is None or len(page.bars.model_bars.opts["x"]) == 0
