"""The one terminal progress printer of the CLI: a ``tqdm`` bar on stderr and the lines between its updates.

Every command that shows progress passes its events through :func:`track`
(or a :class:`Printer`): :class:`~engine.events.Progress` and
:class:`~engine.events.DownloadProgress` move the bar, the other events
print one line each above it. The bar is drawn only on a terminal
(tqdm's ``disable=None``): piped to a file, stderr gets whole lines only,
never ``\r``-joined updates. :func:`close_all` closes any open bar so that an ``error:`` line
starts on its own line.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable, Iterator

from tqdm import tqdm

from engine.events import Done, DownloadProgress, Message, Progress
from engine.training.step import CheckpointSaved, EpochEnd, TrainStep
from engine.training.settings import RunStarted

_OPEN: list["Printer"] = []


class Printer:
    """One bar at a time; ``unit`` names what ``Progress.done`` counts (steps, images, clips, MB)."""

    def __init__(self, unit: str = "step", key: str = "loss"):
        self.unit, self.key, self.bar, self.last = unit, key, None, None

    def _bar(self, total: int | None, desc: str, unit: str, scale: bool = False) -> tqdm:
        if self.bar is None or self.bar.total != total or self.bar.desc.split(":")[0] != desc.split(":")[0]:
            self.close()
            self.bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=scale, file=sys.stderr, leave=False,
                            dynamic_ncols=True, mininterval=0.5, disable=None)
            _OPEN.append(self)
        return self.bar

    def progress(self, done: int, total: int, desc: str) -> None:
        bar = self._bar(total, desc, self.unit)
        bar.set_description_str(desc, refresh=False)
        if self.last is not None:
            bar.set_postfix_str(f"loss {self.last.loss:.2f} lr {self.last.lr:.2g}", refresh=False)
        bar.update(done - bar.n)

    def line(self, text: str) -> None:
        """One line above the bar."""
        tqdm.write(text, file=sys.stderr)

    def show(self, event: object) -> None:
        """Draw ``event``: bars for progress, one line for epochs, checkpoints, run starts and messages."""
        if isinstance(event, TrainStep):
            self.last = event
        elif isinstance(event, DownloadProgress):
            bar = self._bar(event.total or None, f"  {event.filename}", "B", scale=True)
            bar.update(event.done - bar.n)
        elif isinstance(event, Progress) and event.total:
            self.progress(event.done, event.total, f"  {event.message}")
        elif isinstance(event, EpochEnd):
            shown = "  ".join(f"{k} {v:.3f}" for k, v in event.train.items())
            val = f"  | val {self.key} {event.val[self.key]:.3f}" if self.key in event.val else ""
            self.line(f"  epoch {event.epoch}: {shown}{val}")
        elif isinstance(event, CheckpointSaved):
            self.line(f"  saved {event.path} at step {event.step}, {time.strftime('%H:%M:%S')}")
        elif isinstance(event, RunStarted):
            what = "resuming at step" if event.resumed else "starting at step"
            self.line(f"  {event.path}: {what} {event.step} of {event.total_steps}")
        elif isinstance(event, Message):
            self.line(f"  {event.text}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self in _OPEN:
            _OPEN.remove(self)


def track(events: Iterable[object], printer: Printer | None = None, **kwargs) -> Iterator[object]:
    """Yield ``events`` unchanged, drawing each on ``printer`` (new ``Printer(**kwargs)`` if None); close the bar at the end."""
    printer = printer or Printer(**kwargs)
    try:
        for event in events:
            printer.show(event)
            yield event
    finally:
        printer.close()


def drain_training(events: Iterable[object], key: str = "loss") -> tuple[dict, list[dict]]:
    """Print training events; return the final summary (the Done result) and per-epoch {epoch, train, val} of ``key``."""
    result: dict = {}
    history: list[dict] = []
    for event in track(events, key=key):
        if isinstance(event, EpochEnd):
            history.append({"epoch": event.epoch, "train": event.train[key], "val": event.val.get(key, math.nan)})
        elif isinstance(event, Done):
            result = event.result
    return result, history


def close_all() -> None:
    """Close every open bar (before an ``error:`` line, which must start on its own line)."""
    for printer in list(_OPEN):
        printer.close()
