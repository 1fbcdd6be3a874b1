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


def test_a_producer_thread_and_the_callback_consumer_lose_and_repeat_nothing():
    """One worker thread writes chunks (growing the buffer) while another drains it as PortAudio's callback
    does: every sample comes out once, in order (the callback pads with zeros when it runs dry). The stream
    itself never opens (the prebuffer is never reached)."""
    import threading
    from types import SimpleNamespace

    player = StreamPlayer(8000, prebuffer_s=10_000)
    audio = np.arange(1, 200_001, dtype=np.float32)  # no zeros, so padding is told apart
    blocks, status = [], SimpleNamespace(output_underflow=False)
    producer = threading.Thread(target=lambda: [player.write(audio[i : i + 333]) for i in range(0, len(audio), 333)])
    producer.start()
    while producer.is_alive() or player.buffered_s > 0:
        block = np.full((256, 1), -1.0, np.float32)
        player._callback(block, 256, None, status)
        blocks.append(block[:, 0])
    producer.join()
    played = np.concatenate(blocks)
    assert not (played == -1).any()
    assert np.array_equal(played[played != 0], audio) and np.array_equal(player.samples(), audio)
