"""The one base class for mistakes in what the user gave (an argument, a file, a folder).

The CLI catches exactly these and prints their one-line message with exit code 2; every other
exception is a bug and keeps its traceback. The subclasses also derive from the builtin a library
caller would expect (``ValueError``, ``KeyError``, ``FileNotFoundError``, ``OSError``), so
``except ValueError`` around a library call keeps working."""
from __future__ import annotations


class UserError(Exception):
    """A wrong input: its message names the argument or file and says what is valid."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UsageError(UserError, ValueError):
    """A command-line argument or library parameter out of range, malformed, or not for this model/source."""


class UnknownNameError(UserError, KeyError):
    """A name (protocol, split, suite, profile, ...) that does not exist; the message lists the valid ones."""


class MissingInputError(UserError, FileNotFoundError):
    """A file or folder the user named (or that a manifest lists) is not there."""


class BadInputError(UserError, ValueError):
    """A file's content is wrong: not the format, a checksum that differs, a field out of range."""


class UnreachableError(UserError, ConnectionError):
    """A service the user pointed at (the Hub, a Ray cluster) does not answer; reported in bounded time."""


class UnsafePathError(UserError, ValueError):
    """A path or name taken from data or arguments would leave its folder, or is not a regular file."""


class IntegrityError(BadInputError):
    """A file differs from its manifest (checksum, schema, row count) or holds an invalid stored field."""


class WriteError(UserError, OSError):
    """The output cannot be written (full disk, read-only folder); nothing half-written is published."""


def user_error_types() -> tuple[type[BaseException], ...]:
    """``UserError`` plus the user errors of ``baselines`` and ``corruptions``, which by the import rules
    (they never import ``benchmark``) cannot derive from it."""
    from baselines import ModelArgumentError, ModelOutputError, UnknownModelError
    from baselines.checkpoints import CheckpointError
    from baselines.sam._compat import MissingDependencyError
    from corruptions import ImageFormatError, ProfileError, UnknownCorruptionError

    return (UserError, UnknownModelError, CheckpointError, ModelArgumentError, ModelOutputError, MissingDependencyError,
            ImageFormatError, ProfileError, UnknownCorruptionError)
