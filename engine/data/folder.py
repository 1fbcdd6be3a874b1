"""Where GenScope looks for data sets.

Order: an explicit folder (``--data DIR`` or the GUI's choice) >
``GENSCOPE_DATA`` > ``../shared/data`` next to the source tree when present
(development and CI) > a per-user data folder (platformdirs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

DATA_ENV = "GENSCOPE_DATA"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DataFolder:
    """A resolved data folder and why it was chosen.

    ``source`` is one of "explicit", "environment", "shared", "user".
    """

    path: Path
    source: str

    @property
    def exists(self) -> bool:
        return self.path.is_dir()

    def describe(self) -> str:
        why = {
            "explicit": "chosen",
            "environment": f"from ${DATA_ENV}",
            "shared": "shared development data",
            "user": "per-user folder",
        }[self.source]
        state = "" if self.exists else ", does not exist yet"
        return f"{self.path} ({why}{state})"


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the checkout, if it is there."""
    candidate = REPO_ROOT.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


def user_data_dir() -> Path:
    """The per-user data folder, e.g. ~/.local/share/GenScope/data."""
    return Path(platformdirs.user_data_dir("GenScope", appauthor=False)) / "data"


def resolve_data_folder(explicit: str | os.PathLike | None = None) -> DataFolder:
    """Pick the data folder by the documented order (see module docstring)."""
    if explicit:
        return DataFolder(Path(explicit).expanduser().resolve(), "explicit")
    env = os.environ.get(DATA_ENV)
    if env:
        return DataFolder(Path(env).expanduser().resolve(), "environment")
    shared = shared_data_dir()
    if shared is not None:
        return DataFolder(shared, "shared")
    return DataFolder(user_data_dir(), "user")
