"""Imports every built-in model module so that its @register_model runs."""
from . import weightfree  # noqa: F401
