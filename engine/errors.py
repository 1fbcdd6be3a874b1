"""User-facing error types.

A :class:`GenScopeError` carries one clear, actionable sentence meant for the
user; the GUI shows it without a traceback and the CLI prints it and exits 2.
Any other exception is a bug and is reported with its traceback.
"""

from collections.abc import Iterator
from contextlib import contextmanager


class GenScopeError(Exception):
    """An expected mistake (bad file, bad setting, missing data)."""


class DataError(GenScopeError):
    """A data file is missing, truncated, corrupt or of the wrong format."""


class CheckpointError(GenScopeError):
    """A checkpoint cannot be read or does not fit the requested model."""


class ConfigError(GenScopeError):
    """A setting or hyper-parameter is out of range."""


@contextmanager
def file_errors(path, error: type[GenScopeError] = GenScopeError, what: str = "file", label: str = "") -> Iterator[None]:
    """Turn the OS errors of reading ``path`` into one ``error`` sentence (``label`` prefixes the path).

    Missing file, a folder where a file was expected, and any other OS error
    (permissions, I/O) each get their own sentence; other exceptions pass.
    """
    try:
        yield
    except FileNotFoundError as exc:
        raise error(f"{label}{path} does not exist.") from exc
    except IsADirectoryError as exc:
        raise error(f"{path} is a folder, not a {what}.") from exc
    except OSError as exc:
        raise error(f"Could not read {label.lower()}{path}: {exc.strerror or exc}.") from exc
