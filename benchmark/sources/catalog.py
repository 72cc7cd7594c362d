"""Imports every built-in source module so that its @register_source runs."""
from . import synthetic  # noqa: F401
