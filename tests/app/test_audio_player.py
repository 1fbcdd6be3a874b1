"""The streaming player through the real PortAudio path (a null ALSA device in CI: it is not clocked in real time)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from app.audio import StreamPlayer, probe_audio

needs_audio = pytest.mark.skipif(not probe_audio().available, reason="no PortAudio output device")


def tone(seconds: float, rate: int = 8000) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


@needs_audio
def test_stream_opens_after_prebuffer_plays_everything_and_stops():
    player = StreamPlayer(8000, prebuffer_s=0.1)
    audio = tone(0.5)
    player.write(audio[:400])
    assert not player.playing  # 50 ms < 100 ms prebuffer
    player.write(audio[400:])
    assert player.playing and player.error == ""
    player.finish()
    assert player.done.wait(5), "playback must end after finish()"
    assert player.played_s == pytest.approx(0.5)
    assert np.array_equal(player.samples(), audio)


@needs_audio
def test_short_clip_plays_on_finish_and_stop_is_immediate_and_idempotent():
    player = StreamPlayer(8000, prebuffer_s=1.0)
    player.write(tone(0.05))
    player.finish()
    assert player.done.wait(5)
    long = StreamPlayer(8000, prebuffer_s=0.05)
    long.write(tone(5.0))
    t0 = time.perf_counter()
    long.stop()
    long.stop()
    assert time.perf_counter() - t0 < 1.0 and long.done.is_set() and not long.playing


def test_a_device_that_cannot_open_gives_a_reason_and_keeps_the_samples():
    player = StreamPlayer(8000, prebuffer_s=0.01, device=987)
    player.write(tone(0.1))
    assert player.error and ("generation goes on" in player.error or "PortAudio" in player.error)
    assert len(player.samples()) == 800 and player.done.is_set()


def test_nothing_written_then_finish_is_done_at_once():
    player = StreamPlayer(8000)
    player.finish()
    assert player.done.is_set() and player.underruns == 0
