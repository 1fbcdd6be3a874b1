"""One setting of a model kind as a table row: its type and range, checked before anything is allocated.

:class:`Option` rows make up :attr:`engine.catalog.Kind.options` (the
command line's per-kind flags) and :attr:`engine.catalog.Kind.limits` (a
model's constructor arguments, as a checkpoint header stores them).
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass

from engine.errors import ConfigError

@dataclass(frozen=True)
class Option:
    """One setting of a kind, as a table row that can be checked before anything is allocated.

    ``name``: the key (a constructor argument unless the kind's ``hparams``
    function derives them); ``flag``: the CLI flag (default ``--name``);
    ``type``: int, float, str or bool (a bool is a switch); ``low``/``high``:
    inclusive range; ``choices``: allowed values; ``many``: a list of 1 to ``longest`` values.
    """

    name: str
    default: object
    type: type = int
    help: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    many: bool = False
    flag: str | None = None
    longest: int = 16

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def check(self, value: object, label: str | None = None) -> object:
        """``value`` if its type and range fit this row, else ConfigError naming ``label`` (default the flag) and the range."""
        label = label or self.cli_flag
        if value is None and self.default is None:
            return value
        if self.many:
            if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= self.longest:
                raise ConfigError(f"{label} must be a list of 1 to {self.longest} values; got {short(value)}.")
        for v in (value if self.many else [value]):
            if not _is_type(v, self.type):
                within = f" {between(self.low, self.high)}" if self.low is not None or self.high is not None else ""
                raise ConfigError(f"{label} must be {_TYPE_WORDS[self.type]}{within}; got {short(v)}.")
            if self.choices is not None and v not in self.choices:
                raise ConfigError(f"{label} must be one of {', '.join(map(str, self.choices))}; got {short(v)}.")
            if (self.low is not None and v < self.low) or (self.high is not None and v > self.high):
                raise ConfigError(f"{label} must be {between(self.low, self.high)}; got {v}.")
        return value


_TYPE_WORDS = {int: "a whole number", float: "a finite number", str: "text", bool: "true or false"}


def _is_type(value: object, kind: type) -> bool:
    """True if ``value`` is a ``kind`` (an int also counts as a float; a bool is never a number; floats are finite)."""
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, kind)


def between(low: float | None, high: float | None) -> str:
    """"between 1 and 64", "at least 0" or "at most 5": a range in words."""
    if low is not None and high is not None:
        return f"between {_number(low)} and {_number(high)}"
    return f"at least {_number(low)}" if low is not None else f"at most {_number(high)}"


def _number(x: float) -> str:
    """1024, 0.01 or 1e+06: a limit as a person writes it."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e7 else f"{x:g}"


def short(value: object) -> str:
    """A value as the user wrote it, cut to a few dozen characters."""
    r = reprlib.Repr()
    r.maxstring, r.maxother, r.maxlist, r.maxdict, r.maxlevel = 40, 40, 4, 4, 2
    return r.repr(value)


__all__ = ["Option", "between", "short"]


# The settings of each model kind that a checkpoint or the command line may set (read by engine.catalog).
PIXELCNN_LIMITS = (Option("levels", 2, int, low=2, high=256), Option("channels", 32, int, low=1, high=1024),
                   Option("layers", 6, int, low=1, high=64), Option("kernel", 3, int, low=1, high=27),
                   Option("first_kernel", 7, int, low=3, high=27), Option("height", 28, int, low=1, high=256),
                   Option("width", 28, int, low=1, high=256), Option("num_classes", 0, int, low=0, high=1000),
                   Option("head", 0, int, low=0, high=4096))
WAVENET_LIMITS = (Option("levels", 256, int, low=2, high=65536), Option("residual", 32, int, low=1, high=1024),
                  Option("skip", 64, int, low=1, high=1024), Option("layers_per_stack", 8, int, low=1, high=16),
                  Option("stacks", 2, int, low=1, high=16), Option("cond_classes", 0, int, low=0, high=1000),
                  Option("cond_name", "digit", str, choices=("digit", "speaker", "note")),
                  Option("sample_rate", 8000, int, low=100, high=192000))
ORDERINGS = ("raster", "column", "snake", "spiral", "random", "custom")  # custom: a permutation set after loading
BINARY_LIMITS = (Option("height", 28, int, low=1, high=256), Option("width", 28, int, low=1, high=256),
                 Option("ordering", "raster", str, choices=ORDERINGS),
                 Option("order_seed", 0, int, low=0, high=2**31 - 1))

# MAF and IAF (engine.models.flows): the architecture, the point-table options of the command line, the data sets.
_FLOW_ARCH = (Option("dim", 2, int, "dimensions of the points", 1, 4096),
              Option("layers", 10, int, "autoregressive layers (orderings reversed between them)", 1, 64),
              Option("hidden", [32], int, "hidden widths of each layer's MADE", 1, 4096, many=True))
FLOW_OPTIONS = (*_FLOW_ARCH, Option("csv", None, str, "train on two columns of this CSV file (--dataset csv)"),
                Option("columns", None, str, "the CSV's two columns, e.g. eruptions,waiting (default: the first "
                                             "two numeric ones)"))
FLOW_LIMITS = (Option("dim", 2, int, low=1, high=4096), Option("layers", 5, int, low=1, high=64),  # the constructor's
               Option("hidden", [64, 64], int, low=1, high=4096, many=True), Option("seed", 0, int, low=0, high=2**32 - 1))
POINT_SETS = ("moons", "faithful", "rings", "spiral", "blobs", "latent_codes", "mnist_pca2", "csv")
# ~5-10 ms a step of 64 points on one thread (10 layers of [32]): the default training takes ~10-20 s on 800 points.
# Tuned on the held-out split (bench/flows.py): longer training overfits Old Faithful's 218 training points.
FLOW_SETTINGS = {"epochs": 150, "batch_size": 64, "lr": 1e-2, "lr_decay": 0.98, "sample_every": 0,
                 "checkpoint_every": 2000, "sample_count": 16}
