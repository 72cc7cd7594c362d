"""The one base class for errors caused by what a user supplied (a file, a folder, an argument).

The CLI prints such an error as one line and exits 2; any other exception is a bug and keeps its
traceback. Subclasses also derive from ValueError so callers that catch ValueError keep working."""
from __future__ import annotations


class UserError(Exception):
    """Bad input from the user or from a file they supplied; the message names it and what is valid."""


class UnsafePathError(UserError, ValueError):
    """A path or name taken from data or arguments would leave its folder, or is not a regular file."""


class IntegrityError(UserError, ValueError):
    """A file differs from its manifest (checksum, schema, row count) or holds an invalid stored field."""
