"""The worker queue: order, thread, cancel, pause, errors, latest-wins, close."""

import threading
import time

import pytest

from app.worker import EngineWorker, JobState
from engine.errors import DataError
from engine.events import Progress


def counting(n, delay=0.0, log=None):
    """Yield 0..n-1, recording each step and whether the generator was closed."""
    log = log if log is not None else {}
    log.setdefault("steps", 0)
    try:
        for i in range(n):
            log["steps"] += 1
            if delay:
                time.sleep(delay)
            yield i
    finally:
        log["closed"] = True


def wait_finished(qtbot, job, timeout=5000):
    qtbot.waitUntil(lambda: job.state.finished, timeout=timeout)


def test_events_arrive_in_order_on_gui_thread(qtbot, worker):
    received, threads = [], set()

    def on_event(e):
        received.append(e)
        threads.add(threading.current_thread())

    finished = []
    job = worker.submit(lambda: counting(500), name="count", on_event=on_event, on_finished=finished.append)
    qtbot.waitUntil(lambda: finished == [job], timeout=5000)
    assert received == list(range(500))
    assert threads == {threading.main_thread()}
    assert job.state is JobState.DONE and job.steps == 500


def test_factory_runs_on_worker_thread(qtbot, worker):
    seen = []

    def factory():
        seen.append(threading.current_thread())
        return counting(3)

    job = worker.submit(factory, name="where")
    wait_finished(qtbot, job)
    assert seen and seen[0] is not threading.main_thread()


def test_cancel_stops_long_job_within_one_step(qtbot, worker):
    log, got = {}, []
    job = worker.submit(lambda: counting(10**9, 0.005, log), name="long", on_event=got.append)
    qtbot.waitUntil(lambda: len(got) >= 5, timeout=5000)
    steps_at_cancel = log["steps"]
    job.cancel()
    wait_finished(qtbot, job)
    assert job.state is JobState.CANCELLED
    assert log["steps"] <= steps_at_cancel + 1
    assert log.get("closed"), "generator's finally block must run on cancel"


def test_pause_holds_and_resume_continues(qtbot, worker):
    log, got = {}, []
    job = worker.submit(lambda: counting(60, 0.002, log), name="pausable", on_event=got.append)
    qtbot.waitUntil(lambda: len(got) >= 3, timeout=5000)
    job.pause()
    qtbot.waitUntil(lambda: job.state is JobState.PAUSED, timeout=2000)
    held = log["steps"]
    qtbot.wait(200)
    assert log["steps"] == held
    job.resume()
    wait_finished(qtbot, job)
    assert job.state is JobState.DONE and got == list(range(60))


def test_step_lets_exactly_one_event_through(qtbot, worker):
    log, got = {}, []
    job = worker.submit(lambda: counting(100, 0.0, log), name="stepper", on_event=got.append)
    job.step()  # on a pending job: run to the first event and hold
    qtbot.waitUntil(lambda: job.state is JobState.PAUSED, timeout=5000)
    qtbot.wait(100)
    assert got == [0]
    for expected in ([0, 1], [0, 1, 2], [0, 1, 2, 3]):
        job.step()
        qtbot.waitUntil(lambda: len(got) == len(expected), timeout=5000)
        qtbot.wait(50)
        assert got == expected and job.state is JobState.PAUSED
    job.resume()
    wait_finished(qtbot, job)
    assert got == list(range(100))


def test_cancel_while_paused(qtbot, worker):
    got = []
    job = worker.submit(lambda: counting(10**9, 0.001), name="p", on_event=got.append)
    qtbot.waitUntil(lambda: len(got) >= 1, timeout=5000)
    job.pause()
    job.cancel()
    wait_finished(qtbot, job)
    assert job.state is JobState.CANCELLED


def failing(expected):
    yield 1
    if expected:
        raise DataError("mnist.gz is truncated; re-download it.")
    raise ZeroDivisionError("boom")


@pytest.mark.parametrize("expected", [True, False])
def test_error_is_reported_and_next_job_runs(qtbot, worker, expected):
    errors, failed_signal = [], []
    worker.job_failed.connect(lambda job, err: failed_signal.append(err))
    bad = worker.submit(lambda: failing(expected), name="bad job", on_error=errors.append)
    good = worker.submit(lambda: counting(3), name="good job")
    wait_finished(qtbot, good)
    assert bad.state is JobState.FAILED and good.state is JobState.DONE
    assert len(errors) == 1 and failed_signal == errors
    err = errors[0]
    assert err.expected is expected
    if expected:
        assert err.text() == "mnist.gz is truncated; re-download it."
    else:
        assert "bad job failed unexpectedly: boom" == err.text()
        assert "ZeroDivisionError" in err.details


def test_error_in_factory_is_reported(qtbot, worker):
    errors = []

    def factory():
        raise DataError("no such file")

    job = worker.submit(factory, name="f", on_error=errors.append)
    wait_finished(qtbot, job)
    assert job.state is JobState.FAILED and errors[0].message == "no such file"


def blocker(gate):
    gate.wait(5)
    yield "unblocked"


def test_latest_wins_drops_superseded_pending(qtbot, worker):
    gate = threading.Event()
    first = worker.submit(lambda: blocker(gate), name="block")
    ran, finished = [], []
    jobs = [
        worker.submit(lambda i=i: iter([i]), name=f"hover {i}", key="hover",
                      on_event=ran.append, on_finished=finished.append)
        for i in range(5)
    ]
    other = worker.submit(lambda: iter(["other"]), name="other key", key="grid", on_event=ran.append)
    gate.set()
    wait_finished(qtbot, other)
    wait_finished(qtbot, jobs[-1])
    assert ran == [4, "other"] or ran == ["other", 4]
    assert [j.state for j in jobs[:-1]] == [JobState.SUPERSEDED] * 4
    assert jobs[-1].state is JobState.DONE and first.state is JobState.DONE
    assert set(finished) == set(jobs), "every superseded job is still reported finished"


def test_latest_wins_can_cancel_running(qtbot, worker):
    got = []
    old = worker.submit(lambda: counting(10**9, 0.002), name="old", key="k", on_event=got.append)
    qtbot.waitUntil(lambda: len(got) >= 1, timeout=5000)
    new = worker.submit(lambda: iter(["new"]), name="new", key="k", cancel_running=True)
    wait_finished(qtbot, new)
    assert old.state is JobState.CANCELLED and new.state is JobState.DONE


def test_progress_events_reach_signal(qtbot, worker):
    seen = []
    worker.job_progress.connect(lambda job, p: seen.append(p.done))
    job = worker.submit(lambda: (Progress(i, 4) for i in range(1, 5)), name="progress")
    wait_finished(qtbot, job)
    qtbot.waitUntil(lambda: len(seen) == 4, timeout=2000)
    assert seen == [1, 2, 3, 4]


class CountingWorker(EngineWorker):
    """Counts queued deliveries (the slot is connected in EngineWorker.__init__)."""

    deliveries = 0

    def _drain_outbox(self):
        self.deliveries += 1
        super()._drain_outbox()


def test_fast_job_does_not_flood_event_loop(qtbot):
    """100k events are delivered in far fewer Qt signals than events."""
    worker = CountingWorker("counting")
    got = []
    job = worker.submit(lambda: iter(range(100_000)), name="fast", on_event=got.append)
    wait_finished(qtbot, job, timeout=20000)
    qtbot.waitUntil(lambda: len(got) == 100_000, timeout=5000)
    assert got[:3] == [0, 1, 2] and got[-1] == 99_999
    assert worker.deliveries < 50_000
    assert worker.shutdown()


def test_no_callbacks_after_shutdown(qtbot):
    worker = EngineWorker("late")
    got = []
    worker.submit(lambda: counting(10**9), name="endless", on_event=got.append)
    qtbot.waitUntil(lambda: len(got) > 0, timeout=5000)
    assert worker.shutdown()
    seen = len(got)
    qtbot.wait(100)
    assert len(got) == seen, "events queued before shutdown must not reach dead widgets"


def test_shutdown_joins_within_two_seconds(qtbot):
    w = EngineWorker("shutdown")
    log = {}
    w.submit(lambda: counting(10**9, 0.01, log), name="forever")
    w.submit(lambda: counting(5), name="pending")
    qtbot.waitUntil(lambda: log.get("steps", 0) >= 2, timeout=5000)
    start = time.monotonic()
    assert w.shutdown(timeout=2.0)
    assert time.monotonic() - start < 2.0
    assert not w.alive and log.get("closed")
    with pytest.raises(RuntimeError):
        w.submit(lambda: counting(1), name="late")
