"""Safe checkpoints: one ``.safetensors`` file with the model's tensors and a JSON config.

The config lives in the safetensors header metadata under the key
``"genscope"`` as ``json.dumps`` of a dict::

    {"kind": "vae", "format_version": 1, "hparams": {...constructor kwargs...},
     "data": ..., "metrics": ..., "created": "2024-...Z", "engine_version": "0.1.0"}

Nothing is ever unpickled: loading parses the safetensors header (a length
prefix and JSON) and copies raw tensor bytes. Writes are atomic: a temp file
in the target folder is written, fsync'ed and renamed onto the target, so a
crash or a full disk leaves the previous file as it was.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import struct
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save

from engine import __version__ as ENGINE_VERSION
from engine.errors import CheckpointError, GenScopeError, file_errors

FORMAT_VERSION = 1
METADATA_KEY = "genscope"
_MAX_HEADER = 16 * 1024 * 1024  # bytes of JSON before the tensors (a GenScope header takes a few kB)
_MAX_DEPTH = 32  # nesting of lists and tables in a header (a GenScope config nests 4 deep)
_PICKLE_MAGICS = (b"PK\x03\x04", b"\x80")  # torch.save zip archive / bare pickle (protocol 2+)


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: where it came from, its config and its tensors (on ``map_location``)."""

    path: Path
    config: dict
    state_dict: dict[str, torch.Tensor]

    @property
    def kind(self) -> str:
        """Model kind, e.g. "vae" or "pixelcnn"."""
        return self.config["kind"]

    @property
    def hparams(self) -> dict:
        """Constructor keyword arguments of the model."""
        return self.config["hparams"]


# --------------------------------------------------------------------------- save


def _complete_config(config: dict) -> dict:
    """Validate ``config`` and return a copy with format_version, created and engine_version filled in."""
    if not isinstance(config, dict):
        raise CheckpointError(f"A checkpoint config must be a dict, got {type(config).__name__}.")
    kind = config.get("kind")
    if not isinstance(kind, str) or not kind:
        raise CheckpointError("A checkpoint config needs a non-empty 'kind' (the model kind, e.g. 'vae').")
    if not isinstance(config.get("hparams"), dict):
        raise CheckpointError("A checkpoint config needs 'hparams', a dict of the model's constructor arguments.")
    out = dict(config)
    out.setdefault("format_version", FORMAT_VERSION)
    out.setdefault("created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    out.setdefault("engine_version", ENGINE_VERSION)
    return out


def _cpu_tensors(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU copies (copies, so tied or sliced tensors never share storage)."""
    out = {}
    for name, value in state_dict.items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(f"Checkpoint entry {name!r} is not a named tensor ({type(value).__name__}).")
        out[name] = value.detach().to("cpu").clone(memory_format=torch.contiguous_format)
    return out


def _serialize(tensors: dict[str, torch.Tensor], config: dict) -> bytes:
    """The complete safetensors file as bytes, config JSON in the header metadata."""
    try:
        metadata = {METADATA_KEY: json.dumps(config, sort_keys=True)}
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"The checkpoint config cannot be stored as JSON ({exc}).") from exc
    return _st_save(tensors, metadata=metadata)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable by syncing its folder; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename itself has happened
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a fsync'ed temp file in the same folder and ``os.replace``."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def write_file(path: str | os.PathLike, data: bytes) -> Path:
    """:func:`write_atomic` for a file the user named (``--out``, Save): one sentence instead of an OSError.

    A folder in its place, a missing folder, a read-only or full disk raise
    :class:`GenScopeError`; an earlier file at ``path`` is then left as it was.
    """
    path = Path(path)
    if path.is_dir():
        raise GenScopeError(f"{path} is a folder; name a file to write.")
    if not path.parent.is_dir():
        raise GenScopeError(f"Cannot write {path}: the folder {path.parent} does not exist.")
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise GenScopeError(f"Could not write {path}: {exc.strerror or exc}. Nothing was changed there.") from exc
    return path


def save_checkpoint(path: str | os.PathLike, state_dict: dict[str, torch.Tensor], config: dict) -> Path:
    """Atomically write ``state_dict`` and ``config`` to the ``.safetensors`` file ``path``.

    ``config`` needs "kind" and "hparams"; "format_version", "created" and
    "engine_version" are filled in when absent. Tensors of any shape/dtype
    are stored as contiguous CPU copies. Returns the path written. On failure
    the previous file (if any) is untouched and no temp file is left behind.
    """
    path = Path(path)
    full_config = _complete_config(config)
    tensors = _cpu_tensors(state_dict)
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, _serialize(tensors, full_config))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        after = "the previous file is untouched" if existed else "nothing was written"
        raise CheckpointError(f"Could not write checkpoint {path}: {reason}; {after}.") from exc
    return path


# --------------------------------------------------------------------------- header


def _not_ours(path: Path, why: str, head: bytes = b"") -> CheckpointError:
    """The error for a file that is not a readable safetensors file; pickles get their own sentence."""
    if head.startswith(_PICKLE_MAGICS):
        return CheckpointError(
            f"{path} looks like a PyTorch pickle (torch.save) file; GenScope only loads .safetensors "
            "checkpoints because pickles can run code when loaded."
        )
    return CheckpointError(f"{path} is truncated or not a GenScope checkpoint ({why}).")


def _parse_header(head: bytes, file_size: int, path: Path) -> tuple[dict, int]:
    """Validate the safetensors header against the file size; return (header dict, header length)."""
    if file_size < 8:
        raise _not_ours(path, f"only {file_size} bytes", head)
    (n,) = struct.unpack("<Q", head[:8])
    if n > _MAX_HEADER or 8 + n > file_size:
        raise _not_ours(path, f"header length {n} does not fit a {file_size}-byte file", head)
    try:
        header = _json(head[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _not_ours(path, f"unreadable header: {exc}", head) from exc
    if not isinstance(header, dict):
        raise _not_ours(path, "header is not a JSON object", head)
    _check_extent(header, file_size - 8 - n, path)
    return header, n


def _json(text: str) -> object:
    """``json.loads(text)``; ValueError (never RecursionError) if lists and tables nest deeper than ``_MAX_DEPTH``."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"lists and tables nest deeper than {_MAX_DEPTH} levels") from None
    level, depth = [value], 0
    while level:  # breadth first, level by level: no recursion however deep the value is
        depth += 1
        if depth > _MAX_DEPTH:
            raise ValueError(f"lists and tables nest deeper than {_MAX_DEPTH} levels")
        level = [c for v in level if isinstance(v, (dict, list)) for c in (v.values() if isinstance(v, dict) else v)]
    return value


def _check_extent(header: dict, data_size: int, path: Path) -> None:
    """The tensors' byte ranges must end exactly where the file ends."""
    try:
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (TypeError, KeyError, IndexError, ValueError) as exc:
        raise _not_ours(path, f"malformed tensor table: {exc!r}") from exc
    if end > data_size:
        raise _not_ours(path, f"tensor data needs {end} bytes but only {data_size} are present")
    if end < data_size:
        raise _not_ours(path, f"{data_size - end} unexpected bytes after the tensor data")


def _config_from_header(header: dict, path: Path) -> dict:
    """Extract and validate the GenScope config from the header's metadata."""
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or METADATA_KEY not in metadata:
        raise CheckpointError(f"{path} is a safetensors file but not a GenScope checkpoint (no '{METADATA_KEY}' metadata).")
    try:
        config = _json(metadata[METADATA_KEY])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} has a corrupt GenScope config ({exc}).") from exc
    if not isinstance(config, dict) or not isinstance(config.get("kind"), str) or not isinstance(config.get("hparams"), dict):
        raise CheckpointError(f"{path} has an incomplete GenScope config (it needs 'kind' and 'hparams').")
    version = config.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} uses checkpoint format {version}, newer than this GenScope understands "
            f"({FORMAT_VERSION}); update GenScope to open it."
        )
    return config


def _check_kind(config: dict, expected_kind: str | Iterable[str] | None, path: Path) -> None:
    if expected_kind is None:
        return
    wanted = {expected_kind} if isinstance(expected_kind, str) else set(expected_kind)
    if config["kind"] not in wanted:
        names = " or ".join(f"'{k}'" for k in sorted(wanted))
        raise CheckpointError(f"{path} is a '{config['kind']}' checkpoint; this needs a {names} checkpoint.")


def _open_checked(path: Path):
    """Open ``path`` for reading, with missing-file and permission errors as CheckpointError."""
    with file_errors(path, CheckpointError, "checkpoint file", label="Checkpoint "):
        return open(path, "rb")


def read_config(path: str | os.PathLike, expected_kind: str | Iterable[str] | None = None) -> dict:
    """Read only the header of checkpoint ``path`` and return its config (no tensor is loaded)."""
    path = Path(path)
    with _open_checked(path) as f:
        try:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            if len(head) == 8:
                (n,) = struct.unpack("<Q", head)
                if n <= min(_MAX_HEADER, size - 8):
                    head += f.read(n)
        except OSError as exc:
            raise CheckpointError(f"Could not read checkpoint {path}: {exc.strerror or exc}.") from exc
    header, _ = _parse_header(head, size, path)
    config = _config_from_header(header, path)
    _check_kind(config, expected_kind, path)
    return config


# --------------------------------------------------------------------------- load


def load_checkpoint(
    path: str | os.PathLike,
    expected_kind: str | Iterable[str] | None = None,
    map_location: str | torch.device = "cpu",
) -> Checkpoint:
    """Load checkpoint ``path``: validate header, config and kind, then the tensors onto ``map_location``."""
    path = Path(path)
    with _open_checked(path) as f:
        try:
            data = f.read()
        except OSError as exc:
            raise CheckpointError(f"Could not read checkpoint {path}: {exc.strerror or exc}.") from exc
    header, _ = _parse_header(data, len(data), path)
    config = _config_from_header(header, path)
    _check_kind(config, expected_kind, path)
    try:
        tensors = _st_load(data)
    except Exception as exc:  # safetensors raises its own SafetensorError for malformed files
        raise _not_ours(path, str(exc)) from exc
    tensors = {name: t.to(map_location) for name, t in tensors.items()}
    return Checkpoint(path=path, config=config, state_dict=tensors)


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(d) for d in t.shape) + ")"


def _names(keys: Iterable[str], limit: int = 4) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def check_fits(module: torch.nn.Module, ckpt: Checkpoint) -> None:
    """Raise CheckpointError if ``ckpt``'s tensors do not match ``module``'s state_dict names and shapes."""
    own = module.state_dict()
    missing = [k for k in own if k not in ckpt.state_dict]
    unexpected = [k for k in ckpt.state_dict if k not in own]
    problems = []
    if missing:
        problems.append(f"the file lacks {len(missing)} tensor(s) the model needs ({_names(missing)})")
    if unexpected:
        problems.append(f"the file has {len(unexpected)} tensor(s) the model does not ({_names(unexpected)})")
    if problems:
        raise CheckpointError(f"{ckpt.path} does not fit this model: {'; '.join(problems)}.")
    for name, mine in own.items():
        theirs = ckpt.state_dict[name]
        if theirs.shape != mine.shape:
            raise CheckpointError(
                f"{ckpt.path} does not fit this model: {name} has shape {_shape(theirs)} in the file "
                f"but {_shape(mine)} in the model."
            )


def store_half(path: str | os.PathLike) -> Path:
    """Rewrite checkpoint ``path`` (atomically) with its floating-point tensors stored as float16: half the file.

    Loading casts them back to the model's float32 parameters (``load_state_dict`` copies across dtypes), so a model
    loaded afterwards computes with exactly the stored, rounded weights.
    """
    ckpt = load_checkpoint(path)
    tensors = {name: t.half() if t.is_floating_point() else t for name, t in ckpt.state_dict.items()}
    return save_checkpoint(path, tensors, ckpt.config)


def stored_dtypes(state_dict: dict[str, torch.Tensor]) -> str:
    """The dtypes of a state dict's floating-point tensors in words, e.g. "float32" or "float16"."""
    names = sorted({str(t.dtype).removeprefix("torch.") for t in state_dict.values() if t.is_floating_point()})
    return " and ".join(names) or "no floating-point tensors"


def load_into(module: torch.nn.Module, ckpt: Checkpoint) -> None:
    """Copy ``ckpt``'s tensors into ``module`` (strict); the module is untouched if they do not fit."""
    check_fits(module, ckpt)
    module.load_state_dict(ckpt.state_dict, strict=True)


__all__ = [
    "Checkpoint",
    "CheckpointError",
    "FORMAT_VERSION",
    "check_fits",
    "load_checkpoint",
    "load_into",
    "read_config",
    "save_checkpoint",
    "store_half",
    "stored_dtypes",
]
