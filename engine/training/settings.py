"""Settings, events and live controls of a training run (see :mod:`engine.training.runs`).

Events are frozen dataclasses holding plain values and numpy arrays, never
tensors. A run yields these besides :class:`engine.training.step.TrainStep`,
:class:`~engine.training.step.EpochEnd`, :class:`~engine.training.step.CheckpointSaved`
and :class:`~engine.events.Progress`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from engine.errors import ConfigError


@dataclass(frozen=True)
class TrainSettings:
    """How a run trains. ``checkpoint_every`` / ``sample_every`` are in steps (0: only at the end).

    ``max_steps`` ends the run early (None: all ``epochs``). ``device`` None
    picks the best available (cuda > mps > cpu). ``sample_count`` images per
    samples file; ``code_count`` training images whose 2-D codes are stored.
    ``threads``: torch CPU threads of the training thread (None: torch's
    default, one per core; 1 is far faster on cores busy with other work).
    ``weight_decay``: decoupled weight decay (AdamW) per step, 0: plain Adam.
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    lr_decay: float = 1.0
    clip_grad: float | None = None
    max_steps: int | None = None
    checkpoint_every: int = 500
    sample_every: int = 250
    log_every: int = 50
    sample_count: int = 64
    code_count: int = 1000
    fsync_every: int = 50
    device: str | None = None
    threads: int | None = None
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        ints = {"epochs": self.epochs, "batch_size": self.batch_size, "log_every": self.log_every,
                "sample_count": self.sample_count, "fsync_every": self.fsync_every}
        bad = [f"{k} = {v}" for k, v in ints.items() if int(v) < 1]
        bad += [f"{k} = {v}" for k, v in {"checkpoint_every": self.checkpoint_every, "sample_every": self.sample_every,
                                          "code_count": self.code_count}.items() if int(v) < 0]
        bad += [f"{k} = {v}" for k, v in {"max_steps": self.max_steps, "threads": self.threads}.items()
                if v is not None and v < 1]
        if bad:
            raise ConfigError(f"Training settings out of range: {', '.join(bad)}.")
        check_lr(self.lr)
        if not 0 < self.lr_decay <= 1 or (self.clip_grad is not None and not self.clip_grad > 0):
            raise ConfigError(f"lr_decay must be in (0, 1] and clip_grad positive; got {self.lr_decay}, {self.clip_grad}.")
        if not 0 <= self.weight_decay < 1:
            raise ConfigError(f"weight_decay must be in [0, 1); got {self.weight_decay}.")
        if not 0 <= int(self.seed) < 2**63:
            raise ConfigError(f"The seed must be a non-negative integer below 2**63, got {self.seed}.")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainSettings":
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"Unknown training settings: {', '.join(unknown)}.")
        return cls(**values)


def _positive_finite(value, what: str) -> float:
    """``value`` as a float if positive and finite, else a ConfigError naming ``what``."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what} must be a number, got {value!r}.") from exc
    if not (number > 0 and math.isfinite(number)):
        raise ConfigError(f"{what} must be positive and finite, got {value}.")
    return number


def check_lr(lr: float) -> float:
    """``lr`` as a float if positive and finite, else ConfigError."""
    return _positive_finite(lr, "The learning rate")


def check_beta(beta: float) -> float:
    """``beta`` as a float if positive and finite, else ConfigError."""
    return _positive_finite(beta, "beta (the KL weight)")


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class RunStarted:
    """First event: the run folder, where training (re)starts, how many steps in all, the run's config."""

    path: str
    step: int
    total_steps: int
    resumed: bool
    config: dict


@dataclass(frozen=True, eq=False)
class SamplesReady:
    """Periodic samples at ``step``: images (G, H, W) float16 in [0, 1] (None for audio models); codes (M, 2)
    float16 and labels (M,) uint8 of a fixed training subset when the latent space is 2-D (else None); ``path``
    of the .npz; ``audio`` (G, T) float32 clips at ``rate`` Hz for audio models (else None); ``text`` (G,)
    str paragraphs for text models (else None)."""

    step: int
    images: np.ndarray | None
    codes: np.ndarray | None
    labels: np.ndarray | None
    path: str
    audio: np.ndarray | None = None
    rate: int = 0
    text: np.ndarray | None = None


@dataclass(frozen=True)
class SettingChanged:
    """A live change from :class:`Controls`, applied after ``step`` steps (step + 1 is the first to use it)."""

    step: int
    name: str
    value: float


@dataclass(frozen=True)
class Diverged:
    """Step ``step`` gave a non-finite ``what`` ("loss" or "gradient"); its update was not applied and the
    weights and optimizer were restored to those of step ``checkpoint_step``. Advancing again continues."""

    step: int
    what: str
    checkpoint_step: int


@dataclass(frozen=True)
class RunFinished:
    """Last event of a run that ran to its end: ``status`` "finished" at ``step``."""

    status: str
    step: int


# --------------------------------------------------------------------------- controls


class Controls:
    """Live settings for a running run; thread-safe, held by the GUI, read by the run between steps.

    ``set_lr`` / ``set_beta`` validate at once (ConfigError) and take effect at
    the next step; the run then yields :class:`SettingChanged` and logs it.
    ``on_diverged`` (optional) is called on the training thread just before
    :class:`Diverged` is yielded, e.g. with ``job.pause`` so a worker holds the
    run at that event with no race.
    """

    def __init__(self, on_diverged: Callable[[], None] | None = None):
        self._lock = threading.Lock()
        self._pending: dict[str, float] = {}
        self._supported: frozenset[str] | None = None
        self.on_diverged = on_diverged

    def set_lr(self, lr: float) -> None:
        """Use learning rate ``lr`` (> 0, finite) from the next step on."""
        self._put("lr", check_lr(lr))

    def set_beta(self, beta: float) -> None:
        """Use KL weight ``beta`` (> 0) from the next step on (models with a ``beta`` only)."""
        self._put("beta", check_beta(beta))

    def supports(self, name: str) -> bool:
        """Whether the attached run can change ``name`` (True before a run attaches)."""
        return self._supported is None or name in self._supported

    def _put(self, name: str, value: float) -> None:
        if not self.supports(name):
            raise ConfigError(f"This model has no {name} to change.")
        with self._lock:
            self._pending[name] = value

    def take(self) -> dict[str, float]:
        """Pending changes (name -> value), cleared; called by the run before each step."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending

    def attach(self, supported: set[str]) -> None:
        """Called by the run: the settings its model can change."""
        self._supported = frozenset(supported)
