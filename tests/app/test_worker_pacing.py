"""A paced job's events (a training run's) reach the GUI in batches (fewer GUI wake-ups, each taking the GIL from
the worker); other jobs' are never held, and a held event still arrives while its job blocks."""

import threading
import time

import pytest

from app.worker import EngineWorker


class CountingWorker(EngineWorker):
    """Counts deliveries (GUI-thread wake-ups that hand events over)."""

    def __init__(self, *args, **kwargs) -> None:
        self.deliveries = 0
        super().__init__(*args, **kwargs)

    def _drain_outbox(self) -> None:
        self.deliveries += 1
        super()._drain_outbox()


@pytest.fixture
def worker(qtbot):
    w = CountingWorker("pacing", pace_ms=40)
    yield w
    assert w.shutdown(timeout=2.0)


def ticking(n: int, every_s: float):
    for i in range(n):
        time.sleep(every_s)
        yield i


def test_a_fast_paced_job_is_delivered_in_batches_in_order(qtbot, worker):
    seen = []
    job = worker.submit(lambda: ticking(150, 0.002), name="fast", on_event=seen.append, paced=True)
    qtbot.waitUntil(lambda: job.state.finished and len(seen) == 150, timeout=10000)
    assert seen == list(range(150))
    # ~0.3 s of events at 500 a second: about one delivery per 40 ms, not one per event
    assert worker.deliveries < 40, f"{worker.deliveries} deliveries for 150 events"


def test_a_held_event_arrives_while_its_job_blocks(qtbot, worker):
    release, seen = threading.Event(), []

    def two_then_wait():
        yield "first"
        yield "second"  # right after the first: held for the pacer
        release.wait(10)

    job = worker.submit(two_then_wait, name="blocking", on_event=seen.append, paced=True)
    qtbot.waitUntil(lambda: seen == ["first", "second"], timeout=2000)
    assert not job.state.finished
    release.set()
    qtbot.waitUntil(lambda: job.state.finished, timeout=5000)


def test_other_jobs_are_never_paced(qtbot, worker):
    release, seen = threading.Event(), []

    def two_then_wait():
        yield "first"
        yield "second"
        release.wait(10)

    worker.submit(two_then_wait, name="painting", on_event=seen.append)
    qtbot.waitUntil(lambda: seen == ["first", "second"], timeout=2000)
    assert not worker._pacer.isActive()
    release.set()
