"""The GUI benches' one wait: the real Qt event loop (as in the app, no busy polling) until a condition holds."""

from __future__ import annotations

import time


def run_until(condition, timeout_s: float, what: str, poll_ms: int = 10) -> None:
    """Run the event loop until ``condition()``, checked every ``poll_ms``; exit naming ``what`` after ``timeout_s``.

    Polling works whichever worker the page uses (the Sampler has its own), where waiting for one worker's
    ``job_finished`` signal once hung ``bench/pixelcnn.py``.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    loop, poll = QEventLoop(), QTimer(interval=poll_ms)
    deadline = time.perf_counter() + timeout_s
    poll.timeout.connect(lambda: loop.quit() if condition() or time.perf_counter() > deadline else None)
    poll.start()
    if not condition():
        loop.exec()
    poll.stop()
    if not condition():
        raise SystemExit(f"gave up waiting {timeout_s:.0f} s for {what}")
