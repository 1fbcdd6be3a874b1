"""User-facing error types.

A :class:`GenScopeError` carries one clear, actionable sentence meant for the
user; the GUI shows it without a traceback and the CLI prints it and exits 2.
Any other exception is a bug and is reported with its traceback.
"""


class GenScopeError(Exception):
    """An expected mistake (bad file, bad setting, missing data)."""


class DataError(GenScopeError):
    """A data file is missing, truncated, corrupt or of the wrong format."""


class CheckpointError(GenScopeError):
    """A checkpoint cannot be read or does not fit the requested model."""


class ConfigError(GenScopeError):
    """A setting or hyper-parameter is out of range."""
