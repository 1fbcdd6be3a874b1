"""Bundled trained models in ``assets/`` and their health.

A bundled model is a checkpoint ``assets/<name>.safetensors`` with a model
card ``assets/<name>.md`` beside it. A missing or corrupt file disables only
the feature that needs it; :func:`bundled_models` says which and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.checkpoints import read_config
from engine.errors import CheckpointError

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"


@dataclass(frozen=True)
class BundledModel:
    """One checkpoint in ``assets/``: its kind when readable, else the problem."""

    name: str
    path: Path
    kind: str | None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_model(path: Path) -> BundledModel:
    """Read one checkpoint's header; a missing or corrupt file becomes a problem."""
    path = Path(path)
    if not path.exists():
        return BundledModel(path.stem, path, None, f"Bundled model {path.name} is missing from {path.parent}.")
    try:
        config = read_config(path)
    except CheckpointError as exc:
        return BundledModel(path.stem, path, None, str(exc))
    return BundledModel(path.stem, path, str(config.get("kind")))


def bundled_models(assets_dir: Path = ASSETS_DIR) -> list[BundledModel]:
    """Every ``*.safetensors`` in ``assets_dir``, checked by reading its header."""
    return [check_model(path) for path in sorted(Path(assets_dir).glob("*.safetensors"))]


def find_bundled(name: str, assets_dir: Path = ASSETS_DIR) -> BundledModel:
    """The bundled model ``name`` (``assets/<name>.safetensors``), checked."""
    return check_model(Path(assets_dir) / f"{name}.safetensors")
