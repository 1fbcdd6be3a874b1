"""The one thread boundary: a job queue drained by an engine worker thread.

A job is a factory returning an engine generator. The worker thread advances
the generator one step at a time; between steps it honours cancel and pause
(cooperative, so a job stops within one step). Every yielded event is put in
an outbox and handed to the GUI thread through a queued Qt signal; at most one
delivery signal is in flight, so a fast job cannot flood the event loop and
events arrive in order, in batches (rule 4 of the design guide).

A ``paced`` job's events (a training run's steps) are batched: one that
follows a delivery by less than ``pace_ms`` waits in the outbox for the GUI's
pacing timer, so a job yielding 100 events a second wakes the GUI thread
about 25 times, not 100. Each wake-up takes the GIL from the worker (and
under load the GUI thread can be descheduled holding it): bench/training.py
counts the cost. Other jobs' events, and every job's start, end and failure,
are never held (a paused painting must stop on the screen when it stops).

Interactive requests (hovering in the latent map) pass a ``key``: a new job
with the same key replaces a pending one (latest-wins), and can also cancel a
running one.
"""

from __future__ import annotations

import enum
import itertools
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from engine.errors import GenScopeError
from engine.events import Done, Progress


class JobState(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.CANCELLED, JobState.SUPERSEDED, JobState.FAILED)


@dataclass(frozen=True)
class JobError:
    """What went wrong in a job, for the GUI.

    ``expected`` is True for a :class:`GenScopeError` (a user mistake with a
    clear sentence); otherwise it is a bug and ``details`` holds the traceback.
    """

    job_name: str
    message: str
    details: str
    expected: bool

    def text(self) -> str:
        if self.expected:
            return self.message
        return f"{self.job_name} failed unexpectedly: {self.message}"


_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    """A unit of work; created by :meth:`EngineWorker.submit`, never directly.

    Callbacks run on the GUI thread: ``on_event(event)`` for each yielded
    event, ``on_finished(job)`` once at the end (whatever the state), and
    ``on_error(JobError)`` when the job raised. A ``brief`` job (a hover
    decode, a lens measurement) is too short to show in the status bar. A
    ``paced`` job's events are delivered in batches, at most every
    ``pace_ms`` of its worker (module docstring).
    """

    factory: Callable[[], Iterator]
    name: str
    key: str | None = None
    on_event: Callable[[object], None] | None = None
    on_finished: Callable[["Job"], None] | None = None
    on_error: Callable[[JobError], None] | None = None
    brief: bool = False
    paced: bool = False
    id: int = field(default_factory=lambda: next(_ids))
    state: JobState = JobState.PENDING
    steps: int = 0
    error: JobError | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _resume: threading.Event = field(default_factory=threading.Event, repr=False)
    _budget: int | None = field(default=None, repr=False)  # steps left before pausing again (step())
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._resume.set()

    def cancel(self) -> None:
        """Ask the job to stop at its next yield (or drop it if pending)."""
        self._cancel.set()
        self._resume.set()

    def pause(self) -> None:
        """Hold the job at its next yield until :meth:`resume`."""
        with self._lock:
            self._budget = None
            self._resume.clear()

    def resume(self) -> None:
        with self._lock:
            self._budget = None
            self._resume.set()

    def step(self) -> None:
        """Let the job yield exactly one more event, then hold it as :meth:`pause` does.

        On a pending job: it runs to its first event and holds there.
        """
        with self._lock:
            self._budget = 1
            self._resume.set()

    def _spend_step(self) -> None:
        """Worker side, after each event: count down a :meth:`step` budget and pause when spent."""
        with self._lock:
            if self._budget is not None:
                self._budget -= 1
                if self._budget <= 0:
                    self._budget = None
                    self._resume.clear()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()


class EngineWorker(QObject):
    """One engine worker thread with a FIFO job queue.

    Signals (all delivered on the GUI thread):
      ``job_started(Job)``, ``job_progress(Job, Progress)``,
      ``job_finished(Job)``, ``job_failed(Job, JobError)``.
    """

    job_started = Signal(object)
    job_progress = Signal(object, object)
    job_finished = Signal(object)
    job_failed = Signal(object, object)
    _deliver = Signal()

    def __init__(self, name: str = "engine", parent: QObject | None = None, pace_ms: int = 40) -> None:
        super().__init__(parent)
        self._name = name
        self._queue: deque[Job] = deque()
        self._cond = threading.Condition()
        self._outbox: deque[tuple[str, Job, object]] = deque()
        self._outbox_lock = threading.Lock()
        self._delivery_pending = False
        self._pace_s = pace_ms / 1000
        self._paced: Job | None = None  # the running paced job, once the GUI has seen it start
        self._delivered_at = 0.0  # time.monotonic() of the last delivery
        self._pacer = QTimer(self)
        self._pacer.setInterval(pace_ms)
        self._pacer.timeout.connect(self._pace)
        self._current: Job | None = None
        self._stopping = False
        self._deliver.connect(self._drain_outbox, Qt.ConnectionType.QueuedConnection)
        self._thread = threading.Thread(target=self._run, name=f"genscope-{name}", daemon=True)
        self._thread.start()

    # ----------------------------------------------------------- GUI side
    def submit(
        self,
        factory: Callable[[], Iterator],
        *,
        name: str,
        key: str | None = None,
        cancel_running: bool = False,
        on_event: Callable[[object], None] | None = None,
        on_finished: Callable[[Job], None] | None = None,
        on_error: Callable[[JobError], None] | None = None,
        brief: bool = False,
        paced: bool = False,
    ) -> Job:
        """Queue a job; ``factory()`` is called on the worker thread.

        With ``key``, a pending job with the same key is superseded (dropped
        unrun) and, if ``cancel_running``, a running one is cancelled.
        """
        job = Job(factory, name, key, on_event, on_finished, on_error, brief, paced)
        with self._cond:
            if self._stopping:
                raise RuntimeError("The engine worker has been shut down.")
            if key is not None:
                self._supersede(key, cancel_running)
            self._queue.append(job)
            self._cond.notify()
        return job

    def _supersede(self, key: str, cancel_running: bool) -> None:
        for old in [j for j in self._queue if j.key == key]:
            self._queue.remove(old)
            old.state = JobState.SUPERSEDED
            self._post("finished", old, None)
        running = self._current
        if cancel_running and running is not None and running.key == key:
            running.cancel()

    @property
    def current(self) -> Job | None:
        return self._current

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def cancel_all(self) -> None:
        """Drop every pending job and cancel the running one."""
        with self._cond:
            dropped = list(self._queue)
            self._queue.clear()
            running = self._current
        for job in dropped:
            job.state = JobState.CANCELLED
            self._post("finished", job, None)
        if running is not None:
            running.cancel()

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Cancel everything and join the thread; True if it ended in time."""
        with self._cond:
            self._stopping = True
        self._pacer.stop()
        self.cancel_all()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @Slot()
    def _pace(self) -> None:
        """The pacing timer: deliver what a paced job's events left in the outbox."""
        if self._outbox:
            self._drain_outbox()

    @Slot()
    def _drain_outbox(self) -> None:
        with self._outbox_lock:
            batch = list(self._outbox)
            self._outbox.clear()
            self._delivery_pending = False
            self._delivered_at = time.monotonic()
        if self._stopping:
            return  # shut down: the widgets behind the callbacks may be gone
        for kind, job, payload in batch:
            try:
                self._dispatch(kind, job, payload)
            except Exception as exc:  # a bug in a GUI callback: report it, keep delivering
                error = JobError(job.name, f"{type(exc).__name__}: {exc}", traceback.format_exc(), False)
                traceback.print_exc()
                self.job_failed.emit(job, error)

    def _dispatch(self, kind: str, job: Job, payload: object) -> None:
        if kind == "event":
            if job.on_event is not None and not job.cancelled:
                job.on_event(payload)
            if isinstance(payload, Progress):
                self.job_progress.emit(job, payload)
        elif kind == "started":
            if job.paced:
                with self._outbox_lock:
                    self._paced = job
                self._pacer.start()
            self.job_started.emit(job)
        elif kind == "failed":
            if job.on_error is not None:
                job.on_error(payload)
            self.job_failed.emit(job, payload)
        elif kind == "finished":
            if job is self._paced:
                with self._outbox_lock:
                    self._paced = None
                self._pacer.stop()
            if job.on_finished is not None:
                job.on_finished(job)
            self.job_finished.emit(job)

    # -------------------------------------------------------- worker side
    def _post(self, kind: str, job: Job, payload: object) -> None:
        with self._outbox_lock:
            self._outbox.append((kind, job, payload))
            if self._delivery_pending:
                return
            if kind == "event" and job is self._paced and time.monotonic() - self._delivered_at < self._pace_s:
                return  # the pacer delivers it, within pace_ms
            self._delivery_pending = True
        self._deliver.emit()

    def _next_job(self) -> Job | None:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            job = self._queue.popleft()
            self._current = job
            return job

    def _run(self) -> None:
        while True:
            job = self._next_job()
            if job is None:
                return
            try:
                self._run_job(job)
            finally:
                with self._cond:
                    self._current = None
                self._post("finished", job, None)

    def _run_job(self, job: Job) -> None:
        if job.cancelled:
            job.state = JobState.CANCELLED
            return
        job.state = JobState.RUNNING
        self._post("started", job, None)
        gen = None
        try:
            gen = job.factory()
            for event in gen:
                job.steps += 1
                self._post("event", job, event)
                if not self._checkpoint(job):
                    break
            job.state = JobState.CANCELLED if job.cancelled else JobState.DONE
        except Exception as exc:  # reported to the GUI, never swallowed
            job.state = JobState.FAILED
            job.error = JobError(
                job.name, str(exc) or type(exc).__name__, traceback.format_exc(), isinstance(exc, GenScopeError)
            )
            self._post("failed", job, job.error)
        finally:
            if gen is not None and hasattr(gen, "close"):
                gen.close()

    def _checkpoint(self, job: Job) -> bool:
        """Called at every yield: wait while paused; False means stop."""
        job._spend_step()
        if job.paused and not job.cancelled:
            job.state = JobState.PAUSED
            while not job._resume.wait(0.05):
                if self._stopping:
                    job.cancel()
            if not job.cancelled:
                job.state = JobState.RUNNING
        return not job.cancelled


def once(fn: Callable[[], object]) -> Iterator[Done]:
    """A one-step job: call ``fn`` on the worker thread and yield ``Done(result)``."""
    yield Done(fn())
