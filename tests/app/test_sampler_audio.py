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
    page.open_checkpoint(checkpoint, {"kind": "wavenet"})
    qtbot.waitUntil(lambda: page.models.path == checkpoint and page.model.residual == 8, timeout=10000)
    return page


def run_to_end(qtbot, page, seconds=0.3):
    page.panel.seconds.setValue(seconds)
    job = page.start()
    assert job is not None
    qtbot.waitUntil(lambda: job.state == JobState.DONE, timeout=30000)
    qtbot.waitUntil(lambda: len(page.clips) == 1, timeout=5000)
    return job


def test_generates_plays_draws_and_saves(qtbot, make_window, tiny_checkpoint, tmp_path):
    page = make_page(qtbot, make_window, tiny_checkpoint)
    assert page.panel.condition.count() == 3 and "receptive field 16 samples" in page.panel.model_info.text()
    run_to_end(qtbot, page)
    assert len(page.scope.audio) == 2400 and page.scope.log_probs.shape[1] == 64
    assert len(page.scope.spec) > 0 and "Done" in page.stats.text() and "real time" in page.panel.rtf.format()
    page._render()
    x, y = page.scope.wave.getData()
    assert len(x) > 0 and np.isfinite(y).all()
    assert page.player is not None and page.player.done.wait(5) and page.player.error == ""
    assert page.panel.clips.count() == 1
    out = tmp_path / "saved.wav"
    assert page.save_wav(out)
    audio, rate = sf.read(out)
    assert rate == 8000 and len(audio) == 2400


def test_without_a_sound_device_generation_runs_and_says_why(qtbot, make_window, tiny_checkpoint, tmp_path):
    off = AudioStatus(False, reason="no audio output device.", fix="Connect or enable a sound device.")
    page = make_page(qtbot, make_window, tiny_checkpoint, audio=off)
    assert "no audio output device" in page.panel.sound.text()
    run_to_end(qtbot, page, 0.1)
    assert page.player is None and len(page.scope.audio) == 800
    assert page.save_wav(tmp_path / "x.wav")


def test_invalid_strategy_is_refused_with_the_reason(qtbot, make_window, tiny_checkpoint):
    page = make_page(qtbot, make_window, tiny_checkpoint)
    page.panel.strategy.strategy_name.setCurrentText("top-p")
    page.panel.strategy.params["top_p"].setText("1.5")
    assert "top-p must be in (0, 1]" in page.panel.strategy.error.text()
    assert page.start() is None and "top-p must be in (0, 1]" in page.note.text()
    assert "beam" not in [page.panel.strategy.strategy_name.itemText(i)
                          for i in range(page.panel.strategy.strategy_name.count())]


def test_stop_and_close_during_playback_end_cleanly(qtbot, make_window, tiny_checkpoint):
    page = make_page(qtbot, make_window, tiny_checkpoint)
    page.panel.seconds.setValue(60.0)
    job = page.start()
    qtbot.waitUntil(lambda: len(page.scope.audio) > 4000, timeout=10000)
    page.pause()
    qtbot.waitUntil(lambda: job.state == JobState.PAUSED, timeout=5000)
    assert page.panel.buttons["Pause"].text() == "Resume"
    page.pause()
    page.stop()
    qtbot.waitUntil(lambda: job.state == JobState.CANCELLED, timeout=5000)
    assert page.player is None and len(page.clips) == 0
    page.start()
    qtbot.waitUntil(lambda: len(page.scope.audio) > 1000, timeout=10000)
    page.shutdown()
    qtbot.waitUntil(lambda: not page.running(), timeout=5000)


def test_priming_with_a_stereo_44k_file_converts_it_and_keeps_it(qtbot, make_window, tiny_checkpoint, tmp_path):
    t = np.arange(44100 // 4) / 44100
    tone = 0.4 * np.sin(2 * np.pi * 300 * t)
    sf.write(tmp_path / "prime.wav", np.stack([tone, tone], 1), 44100)
    page = make_page(qtbot, make_window, tiny_checkpoint)
    page.panel.prime.setCurrentIndex(2)
    page.prime_file = str(tmp_path / "prime.wav")
    page.panel.prime_seconds.setValue(0.1)
    run_to_end(qtbot, page, 0.1)
    assert "mixed to mono" in page.note.text() and "44100 Hz -> 8000 Hz" in page.note.text()
    assert len(page.scope.audio) == 1600  # 0.1 s primed + 0.1 s generated


def test_a_broken_priming_file_is_named(qtbot, make_window, tiny_checkpoint, tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    page = make_page(qtbot, make_window, tiny_checkpoint)
    page.panel.prime.setCurrentIndex(2)
    page.prime_file = str(tmp_path / "bad.wav")
    assert page.start() is None and "bad.wav" in page.note.text()


def test_file_open_checkpoint_routes_a_wavenet_to_the_audio_mode(qtbot, make_window, tiny_checkpoint):
    window = make_window()
    window.open_checkpoint(tiny_checkpoint)
    sampler = window.tab_by_key["sampler"]
    qtbot.waitUntil(lambda: sampler.audio.models.path == tiny_checkpoint, timeout=10000)
    assert window.tabs.currentWidget() is sampler and sampler.stack.currentWidget() is sampler.audio
    assert "tiny_wavenet (opened)" in [sampler.audio.panel.model.itemText(i) for i in range(sampler.audio.panel.model.count())]


def test_chunks_reach_the_player_while_the_gui_thread_is_blocked(qtbot, make_window, tiny_checkpoint):
    """The worker feeds the player's buffer itself: with the GUI thread busy (no event handled) for the whole
    run, the player still gets every sample, while the scope, drawn from GUI events, has none yet."""
    import time

    page = make_page(qtbot, make_window, tiny_checkpoint)
    page.panel.seconds.setValue(0.2)
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
