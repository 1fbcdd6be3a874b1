"""Start / Pause / Step / Stop of a Sampler page whose run is one job on the Sampler's worker.

:class:`SteppedRun` is mixed into the image and text pages: the page keeps
the job in ``self.job``, has ``start(step=False)``, the run buttons in
``self.panel.buttons`` and a redraw ``self.timer`` that draws from its board
while ``self.dirty``. The worker's cooperative controls do the rest: Pause
holds the job at its next event, Step lets exactly one more event through
(one pixel of every image, one character of every text), Stop cancels it.
"""

from __future__ import annotations

from collections.abc import Callable

from app.worker import JobState


class SteppedRun:
    """The run controls shared by the Sampler's stepping pages (see the module docstring)."""

    job = None
    UNIT = "steps"  # what one step writes, plural ("pixels", "characters")
    #: the engine's event types: one step of every panel (board.apply) and the end of the run (board.finish)
    TICK: type = object
    FINISHED: type = object

    def _connect_run_buttons(self) -> None:
        handlers = {"Start": self.start, "Pause": self.pause, "Step": self.step, "Stop": self.stop}
        for name, handler in handlers.items():
            self.panel.buttons[name].clicked.connect(lambda _=False, h=handler: self._call(h))

    @staticmethod
    def _call(fn: Callable) -> None:
        fn()  # a slot returns None (PySide refcount bug with returned objects)

    def running(self) -> bool:
        return self.job is not None and not self.job.state.finished

    def pause(self) -> None:
        """Pause or resume the running job."""
        if not self.running():
            return
        if self.job.paused:
            self.job.resume()
        else:
            self.job.pause()
        self._update_buttons()

    def step(self) -> None:
        """Exactly one more step (a pixel of every image, a character of every text), then hold; starts a new run
        when none is going."""
        if self.running():
            self.job.step()
            self._update_buttons()
        else:
            self.start(step=True)

    def stop(self) -> None:
        if self.running():
            self.job.cancel()
        self._update_buttons()

    def shutdown(self) -> None:
        self.stop()
        self.timer.stop()

    def _update_buttons(self) -> None:
        running = self.running()
        self.panel.buttons["Pause"].setText("Resume" if running and self.job.paused else "Pause")
        self.panel.buttons["Pause"].setEnabled(running)
        self.panel.buttons["Stop"].setEnabled(running)

    def _mark_dirty(self) -> None:
        self.dirty = True
        if not self.timer.isActive():
            self.timer.start()

    # --------------------------------------------------------- events and redraws
    def _on_event(self, board, event) -> None:
        """A job's event into the board it was started with (a newer board ignores an older job)."""
        if board is not self.board:
            return
        if isinstance(event, self.TICK):
            board.apply(event)
        elif isinstance(event, self.FINISHED):
            board.finish(event)
        self.dirty = True

    def _on_finished(self, job) -> None:
        if job is not self.job:
            return
        self.finished_job = job  # every event of the job has been handled by now
        if job.state is JobState.CANCELLED and self.board is not None:
            self.set_note(f"Stopped after {self.board.ticks} of {self.board.total} {self.UNIT}.")
        elif self.board is not None:
            self._finished_note(self.board)
        self._update_buttons()
        self._mark_dirty()

    def _finished_note(self, board) -> None:
        """A page's word on a run that ended by itself (nothing by default)."""

    def _fill_bars_for(self, titles: list[str], prefix: str) -> None:
        """The 'whose numbers the plots show' combo: one entry per panel, shown only when there are several."""
        self.bars_for.blockSignals(True)
        self.bars_for.clear()
        self.bars_for.addItems([f"{prefix}: {t}" for t in titles])
        self.bars_for.blockSignals(False)
        self.bars_for.setVisible(len(titles) > 1)

    def _render_due(self):
        """The board to redraw now, or None: not changed since the last redraw (then an idle timer stops)."""
        self._update_buttons()  # a Step ends paused on the worker's side
        if not self.dirty or self.board is None:
            if not self.running():
                self.timer.stop()
            return None
        self.dirty = False
        self.redraws += 1
        return self.board
