"""Errors a reader raises for one bad sample; the builder stops on them or, with --skip-bad, records them."""
from __future__ import annotations

from ...errors import UserError


class BadSampleError(UserError, ValueError):
    """A sample that cannot be read; ``path`` names the file, ``reason`` says what is wrong."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
