"""The Sampler's audio mode driven with pytest-qt: generate, hear (null ALSA device), stop, prime, save."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from PySide6.QtCore import Qt

from app.audio import AudioStatus
from app.tabs.sampler.audio import AudioSamplerPage
from app.worker import JobState
from engine.checkpoints import save_checkpoint
from engine.models.wavenet import WaveNet
from engine.training.loop import checkpoint_config
from tests.app import gui
from tests.app.gui import open_checkpoint_from_menu, press, type_into


@pytest.fixture
def tiny_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = WaveNet(levels=64, residual=8, skip=16, layers_per_stack=4, stacks=1, cond_classes=3)
    path = tmp_path / "tiny_wavenet.safetensors"
    save_checkpoint(path, model.state_dict(), checkpoint_config(model, {}, {}, {}))
    return path


def make_page(qtbot, make_window, checkpoint, audio=AudioStatus(True, device="null")):
    window = make_window(audio=audio)
    page = AudioSamplerPage(window.context)
    qtbot.addWidget(page)
    page.resize(1000, 760)
    page.show()
    qtbot.waitExposed(page)
    page.open_checkpoint(checkpoint, {"kind": "wavenet"})
    qtbot.waitUntil(lambda: page.models.path == checkpoint and page.model.residual == 8, timeout=10000)
    return page


def start(qtbot, page):
    """Press Start once the page offers it (after a Stop the page re-enables it when the job's end arrives);
    returns the job it started (None when it was refused)."""
    before = page.job
    qtbot.waitUntil(page.panel.buttons["Start"].isEnabled, timeout=5000)
    press(qtbot, page.panel.buttons["Start"])
    return page.job if page.job is not before else None


def prime_with(qtbot, page, monkeypatch, path):
    """Choose "A sound file…" as the prime; the file dialog answers ``path``."""
    monkeypatch.setattr("app.tabs.sampler.audio.QFileDialog.getOpenFileName", lambda *a, **k: (str(path), ""))
    gui.choose(qtbot, page.panel.prime, "A sound file…")
    assert page.prime_file == str(path)


def run_to_end(qtbot, page, seconds=0.3):
    type_into(qtbot, page.panel.seconds, f"{seconds}")
    job = start(qtbot, page)
    assert job is not None
    qtbot.waitUntil(lambda: job.state == JobState.DONE, timeout=30000)
    qtbot.waitUntil(lambda: len(page.clips) == 1, timeout=5000)
    return job


def test_generates_plays_draws_and_saves(qtbot, make_window, tiny_checkpoint, tmp_path, monkeypatch):
    page = make_page(qtbot, make_window, tiny_checkpoint)
    assert page.panel.condition.count() == 3 and "receptive field 16 samples" in page.panel.model_info.text()
    run_to_end(qtbot, page)
    assert len(page.scope.audio) == 2400 and page.scope.log_probs.shape[1] == 64
    assert len(page.scope.spec) > 0 and "Done" in page.stats.text() and "real time" in page.panel.rtf.format()
    qtbot.waitUntil(lambda: page.scope.wave.getData()[0] is not None and len(page.scope.wave.getData()[0]) > 0,
                    timeout=2000)  # drawn at the next coalesced redraw
    x, y = page.scope.wave.getData()
    assert len(x) > 0 and np.isfinite(y).all()
    assert page.player is not None and page.player.done.wait(5) and page.player.error == ""
    assert page.panel.clips.count() == 1
    out = tmp_path / "saved.wav"
    monkeypatch.setattr("app.tabs.sampler.audio.QFileDialog.getSaveFileName", lambda *a, **k: (str(out), ""))
    press(qtbot, page.panel.save)
    audio, rate = sf.read(out)
    assert rate == 8000 and len(audio) == 2400


def test_without_a_sound_device_generation_runs_and_says_why(qtbot, make_window, tiny_checkpoint, tmp_path,
                                                           monkeypatch):
    off = AudioStatus(False, reason="no audio output device.", fix="Connect or enable a sound device.")
    page = make_page(qtbot, make_window, tiny_checkpoint, audio=off)
    assert "no audio output device" in page.panel.sound.text()
    run_to_end(qtbot, page, 0.1)
    assert page.player is None and len(page.scope.audio) == 800
    monkeypatch.setattr("app.tabs.sampler.audio.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "x.wav"), ""))
    press(qtbot, page.panel.save)
    assert (tmp_path / "x.wav").exists()


def test_invalid_strategy_is_refused_with_the_reason(qtbot, make_window, tiny_checkpoint):
    page = make_page(qtbot, make_window, tiny_checkpoint)
    gui.choose(qtbot, page.panel.strategy.strategy_name, "top-p")
    type_into(qtbot, page.panel.strategy.params["top_p"], "1.5")
    assert "top-p must be in (0, 1]" in page.panel.strategy.error.text()
    assert start(qtbot, page) is None and "top-p must be in (0, 1]" in page.note.text()
    assert "beam" not in [page.panel.strategy.strategy_name.itemText(i)
                          for i in range(page.panel.strategy.strategy_name.count())]


def test_stop_and_close_during_playback_end_cleanly(qtbot, make_window, tiny_checkpoint):
    page = make_page(qtbot, make_window, tiny_checkpoint)
    type_into(qtbot, page.panel.seconds, "60")
    job = start(qtbot, page)
    qtbot.waitUntil(lambda: len(page.scope.audio) > 4000, timeout=10000)
    press(qtbot, page.panel.buttons["Pause"])
    qtbot.waitUntil(lambda: job.state == JobState.PAUSED, timeout=5000)
    assert page.panel.buttons["Pause"].text() == "Resume"
    press(qtbot, page.panel.buttons["Pause"])
    press(qtbot, page.panel.buttons["Stop"])
    qtbot.waitUntil(lambda: job.state == JobState.CANCELLED, timeout=5000)
    assert page.player is None and len(page.clips) == 0
    start(qtbot, page)
    qtbot.waitUntil(lambda: len(page.scope.audio) > 1000, timeout=10000)
    page.shutdown()
    qtbot.waitUntil(lambda: not page.running(), timeout=5000)


def test_priming_with_a_stereo_44k_file_converts_it_and_keeps_it(qtbot, make_window, tiny_checkpoint, tmp_path,
                                                                 monkeypatch):
    t = np.arange(44100 // 4) / 44100
    tone = 0.4 * np.sin(2 * np.pi * 300 * t)
    sf.write(tmp_path / "prime.wav", np.stack([tone, tone], 1), 44100)
    page = make_page(qtbot, make_window, tiny_checkpoint)
    prime_with(qtbot, page, monkeypatch, tmp_path / "prime.wav")
    type_into(qtbot, page.panel.prime_seconds, "0.1")
    run_to_end(qtbot, page, 0.1)
    assert "mixed to mono" in page.note.text() and "44100 Hz -> 8000 Hz" in page.note.text()
    assert len(page.scope.audio) == 1600  # 0.1 s primed + 0.1 s generated


def test_a_broken_priming_file_is_named(qtbot, make_window, tiny_checkpoint, tmp_path, monkeypatch):
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    page = make_page(qtbot, make_window, tiny_checkpoint)
    prime_with(qtbot, page, monkeypatch, tmp_path / "bad.wav")
    assert start(qtbot, page) is None and "bad.wav" in page.note.text()


def test_file_open_checkpoint_routes_a_wavenet_to_the_audio_mode(qtbot, make_window, tiny_checkpoint, monkeypatch):
    window = make_window()
    open_checkpoint_from_menu(qtbot, window, monkeypatch, tiny_checkpoint)
    sampler = window.tab_by_key["sampler"]
    qtbot.waitUntil(lambda: sampler.audio.models.path == tiny_checkpoint, timeout=10000)
    assert window.tabs.currentWidget() is sampler and sampler.stack.currentWidget() is sampler.audio
    assert "tiny_wavenet (opened)" in [sampler.audio.panel.model.itemText(i) for i in range(sampler.audio.panel.model.count())]


def test_chunks_reach_the_player_while_the_gui_thread_is_blocked(qtbot, make_window, tiny_checkpoint):
    """The worker feeds the player's buffer itself: with the GUI thread busy (no event handled) for the whole
    run, the player still gets every sample, while the scope, drawn from GUI events, has none yet."""
    import time

    page = make_page(qtbot, make_window, tiny_checkpoint)
    type_into(qtbot, page.panel.seconds, "0.2")
    qtbot.mouseClick(page.panel.buttons["Start"], Qt.MouseButton.LeftButton)
    job, player = page.job, page.player
    assert job is not None and player is not None
    deadline = time.monotonic() + 30
    while not job.state.finished and time.monotonic() < deadline:  # the GUI thread handles no event meanwhile
        time.sleep(0.01)
    assert job.state is JobState.DONE
    assert len(player.samples()) == 1600 and len(page.scope.audio) == 0
    assert player._finished  # AudioDone told it to drain, also before the GUI saw the event
    qtbot.waitUntil(lambda: len(page.clips) == 1, timeout=5000)
    np.testing.assert_array_equal(player.samples(), page.clips[0].audio)
