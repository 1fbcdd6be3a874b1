"""A training run on disk: one folder per run, written as it trains, readable while it does.

Layout of a run folder::

    config.json                   kind, hparams, data, settings, created, engine_version (written once)
    metrics.jsonl                 one JSON object per line, appended and flushed (see RECORD TYPES)
    checkpoints/last.safetensors  model weights + config incl. "step", "epoch", "resume" (atomic)
    checkpoints/optimizer.safetensors  optimizer tensors as "state.{param_index}.{name}" (atomic)
    checkpoints/state.json        position, RNG, current lr/beta: a readable copy of "resume" (atomic)
    samples/step_000500.npz       images (G, H, W) float16 [+ codes (M, 2) float16, labels (M,)]

Record types in metrics.jsonl (every record has "type", "step" and "time"):
``step`` (epoch, loss, metrics, lr, grad_norm, samples_per_s), ``epoch``
(train, val), ``setting`` (name, value), ``diverged`` (what,
checkpoint_step), ``checkpoint`` (path), ``samples`` (path) and ``status``
(status: running | stopped | crashed | finished | diverged, pid). Nothing
here is ever unpickled. The three checkpoint files are written optimizer
first, weights last; the weights file is the commit point and carries the
resume position itself, so a kill between writes costs at most the
optimizer's moments matching the weights exactly.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from engine import __version__ as ENGINE_VERSION
from engine.checkpoints import Checkpoint, write_atomic, load_checkpoint, save_checkpoint
from engine.errors import CheckpointError, GenScopeError

RUN_FORMAT = 1
STATUSES = ("running", "stopped", "crashed", "finished", "diverged")


class RunError(GenScopeError):
    """A run folder cannot be created, written or read."""


def _os_error(path: Path, exc: OSError, doing: str) -> RunError:
    reason = exc.strerror or type(exc).__name__
    return RunError(f"Cannot {doing} the run folder {path}: {reason}; choose a folder you can write to.")


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- optimizer state


def optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer's state as flat tensors ``state.{i}.{name}`` plus JSON metadata (param_groups, non-tensors)."""
    sd = opt.state_dict()
    tensors, extra = {}, {}
    for index, entries in sd["state"].items():
        for name, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"state.{index}.{name}"] = value.detach().to("cpu").contiguous()
            else:
                extra[f"{index}.{name}"] = value
    return tensors, {"param_groups": sd["param_groups"], "extra": extra}


def restore_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Load what :func:`optimizer_tensors` produced into ``opt`` (built over the same parameters)."""
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    for key, value in meta.get("extra", {}).items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    try:
        opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"The saved optimizer state does not fit this model ({exc}).") from exc


@dataclass(frozen=True)
class SavedState:
    """What :meth:`RunFolder.load_state` found: weights (with config), optimizer tensors and metadata."""

    weights: Checkpoint
    opt_tensors: dict
    opt_meta: dict

    @property
    def resume(self) -> dict:
        """Position and RNG stored with the weights: step, epoch, batch, rng, lr, ..."""
        return self.weights.config["resume"]


# --------------------------------------------------------------------------- the folder


class RunFolder:
    """Reads and writes one run folder; ``writable=False`` makes every write a no-op (DDP ranks > 0)."""

    def __init__(self, path: str | os.PathLike, writable: bool = True):
        self.path, self.writable = Path(path), writable
        self.config_path, self.metrics_path = self.path / "config.json", self.path / "metrics.jsonl"
        self.checkpoints, self.samples = self.path / "checkpoints", self.path / "samples"
        self.last_path = self.checkpoints / "last.safetensors"
        self.optimizer_path = self.checkpoints / "optimizer.safetensors"
        self.state_path = self.checkpoints / "state.json"
        self._log, self._unsynced, self.fsync_every = None, 0, 50

    def exists(self) -> bool:
        return self.config_path.is_file()

    def create(self, config: dict) -> dict:
        """Make the folder and write config.json (plus created, engine_version, format); return the full config."""
        if self.writable and self.exists():  # ranks > 0 skip this: rank 0 may have just created it
            raise RunError(f"{self.path} already holds a run; resume it or choose another folder.")
        full = {**config, "created": now_iso(), "engine_version": ENGINE_VERSION, "format": RUN_FORMAT}
        if self.writable:
            try:
                for folder in (self.path, self.checkpoints, self.samples):
                    folder.mkdir(parents=True, exist_ok=True)
                write_atomic(self.config_path, json.dumps(full, indent=2, sort_keys=True).encode())
            except OSError as exc:
                raise _os_error(self.path, exc, "create") from exc
        return full

    def read_config(self) -> dict:
        try:
            return json.loads(self.config_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise RunError(f"{self.path} is not a run folder (it has no config.json).") from exc
        except (OSError, json.JSONDecodeError) as exc:
            raise RunError(f"The run's config {self.config_path} cannot be read ({exc}).") from exc

    # ------------------------------------------------------------------ metrics
    def log(self, record: dict) -> None:
        """Append one record (adds "time") to metrics.jsonl and flush; fsync every ``fsync_every`` lines."""
        if not self.writable:
            return
        line = json.dumps({**record, "time": round(time.time(), 3)}, separators=(",", ":")) + "\n"
        try:
            if self._log is None:
                self._log = open(self.metrics_path, "a", encoding="utf-8")
            self._log.write(line)
            self._log.flush()
            self._unsynced += 1
            if self._unsynced >= self.fsync_every:
                self.sync()
        except OSError as exc:
            raise _os_error(self.path, exc, "write to") from exc

    def sync(self) -> None:
        """Force logged lines to disk."""
        if self._log is not None:
            os.fsync(self._log.fileno())
            self._unsynced = 0

    def close(self) -> None:
        if self._log is not None:
            try:
                self.sync()
            finally:
                self._log.close()
                self._log = None

    def drop_metrics_after(self, step: int) -> int:
        """Rewrite metrics.jsonl (atomically) without records past ``step`` or unreadable lines; return how many went."""
        if not self.writable or not self.metrics_path.exists():
            return 0
        records = load_metrics(self.path)
        kept = [r for r in records if int(r.get("step", 0)) <= step]
        text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in kept)
        self.close()
        try:
            write_atomic(self.metrics_path, text.encode("utf-8"))
        except OSError as exc:
            raise _os_error(self.path, exc, "write to") from exc
        return len(records) - len(kept)

    # ------------------------------------------------------------------ checkpoints
    def save_state(self, weights: dict, config: dict, opt: torch.optim.Optimizer) -> Path:
        """Write optimizer, state.json, then the weights (the commit point); all atomic. Returns the weights' path."""
        if not self.writable:
            return self.last_path
        tensors, meta = optimizer_tensors(opt)
        meta = {"genscope_optimizer": json.dumps({**meta, "step": config["step"]})}
        try:
            self.checkpoints.mkdir(parents=True, exist_ok=True)
            write_atomic(self.optimizer_path, st_save(tensors, metadata=meta))
            write_atomic(self.state_path, json.dumps(config["resume"], indent=1).encode())
        except OSError as exc:
            raise _os_error(self.path, exc, "write a checkpoint into") from exc
        self.sync()
        return save_checkpoint(self.last_path, weights, config)

    def load_state(self, map_location: str | torch.device = "cpu") -> SavedState | None:
        """The last checkpoint, or None if the run has none yet."""
        if not self.last_path.exists():
            return None
        weights = load_checkpoint(self.last_path, map_location=map_location)
        if "resume" not in weights.config:
            raise CheckpointError(f"{self.last_path} holds no resume position; it was not written by a run.")
        tensors, meta = {}, {}
        if self.optimizer_path.exists():
            try:
                data = self.optimizer_path.read_bytes()
                tensors = st_load(data)
                meta = json.loads(_safetensors_metadata(data)["genscope_optimizer"])
            except Exception as exc:  # safetensors raises its own error type for a malformed file
                raise CheckpointError(f"{self.optimizer_path} is unreadable ({exc}); delete it to resume "
                                      "with a fresh optimizer.") from exc
        return SavedState(weights, tensors, meta)

    # ------------------------------------------------------------------ samples
    def save_samples(self, step: int, arrays: dict[str, np.ndarray]) -> Path:
        """Write ``samples/step_{step:06d}.npz`` atomically (no pickles: plain numeric arrays only)."""
        path = self.samples / f"step_{step:06d}.npz"
        if not self.writable:
            return path
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        try:
            self.samples.mkdir(parents=True, exist_ok=True)
            write_atomic(path, buffer.getvalue())
        except OSError as exc:
            raise _os_error(self.path, exc, "write samples into") from exc
        return path


def _safetensors_metadata(data: bytes) -> dict:
    """The ``__metadata__`` dict of a safetensors file's bytes."""
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n].decode("utf-8")).get("__metadata__") or {}


# --------------------------------------------------------------------------- reading runs


def load_metrics(run_dir: str | os.PathLike) -> list[dict]:
    """All records of a run's metrics.jsonl, in order; unreadable lines (a crash's cut-off last line) are skipped."""
    path = Path(run_dir) / "metrics.jsonl"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise RunError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def load_samples(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """A samples file's arrays: "images" (G, H, W) float16, and "codes" (M, 2), "labels" (M,) when stored."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError) as exc:
        raise RunError(f"Cannot read samples {path} ({exc}).") from exc


def sample_files(run_dir: str | os.PathLike) -> list[Path]:
    """The run's samples files, oldest step first."""
    return sorted((Path(run_dir) / "samples").glob("step_*.npz"))


@dataclass(frozen=True)
class RunInfo:
    """One run for a list: where, what, how far, how it ended."""

    name: str
    path: Path
    kind: str
    status: str
    step: int
    loss: float | None
    created: str
    dataset: str


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":
        return True  # os.kill would terminate the process there; assume it is alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_status(records: list[dict]) -> str:
    """The run's status from its records: the last status line; "running" by a dead process means "crashed"."""
    statuses = [r for r in records if r.get("type") == "status"]
    if not statuses:
        return "crashed" if records else "stopped"
    last = statuses[-1]
    status = last.get("status", "crashed")
    if status == "running" and last.get("host") == socket.gethostname() and not _pid_alive(int(last.get("pid", -1))):
        return "crashed"
    return status


def run_info(run_dir: str | os.PathLike) -> RunInfo:
    """Summary of one run folder (RunError if it is not one)."""
    folder = RunFolder(run_dir)
    config, records = folder.read_config(), load_metrics(run_dir)
    steps = [r for r in records if r.get("type") == "step"]
    return RunInfo(
        name=folder.path.name, path=folder.path, kind=config.get("kind", "?"), status=run_status(records),
        step=int(steps[-1]["step"]) if steps else 0, loss=float(steps[-1]["loss"]) if steps else None,
        created=config.get("created", ""), dataset=config.get("data", {}).get("dataset", "?"),
    )


def list_runs(root: str | os.PathLike) -> list[RunInfo]:
    """Every run folder directly under ``root`` (newest first); folders that are not runs are skipped."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = []
    for child in root.iterdir():
        if (child / "config.json").is_file():
            try:
                runs.append(run_info(child))
            except RunError:
                continue  # a half-created or foreign folder: not a run we can show
    return sorted(runs, key=lambda r: (r.created, r.name), reverse=True)
