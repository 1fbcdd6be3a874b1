"""Typed events yielded by engine generators.

Events are small frozen dataclasses holding plain Python values or numpy
arrays, never live tensors, so they can cross the thread boundary to the GUI.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """Generic progress of a long job.

    ``total`` is None when the amount of work is unknown.
    """

    done: int
    total: int | None = None
    message: str = ""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


@dataclass(frozen=True)
class Message:
    """A line of text for the status bar or the terminal."""

    text: str


@dataclass(frozen=True)
class DownloadProgress(Progress):
    """Bytes fetched so far for one file of a data set download."""

    filename: str = ""


@dataclass(frozen=True)
class Done:
    """Last event of a job that returns a value (a path, metrics, ...)."""

    result: object = None
