"""Degradation ops and profiles: arrays in, arrays out. No torch, no dataset I/O."""
from .image import ImageFormatError, to_rgb_uint8
from .profiles import CLEAR, PROFILE_NAMES, ProfileError, parse_profile, profile, split_name
from .registry import (
    Corruption,
    UnknownCorruptionError,
    corruption_rng,
    describe_corruptions,
    get_corruption,
    list_corruptions,
    register_corruption,
)
from .apply import apply_corruption
from .labels import apply_corruption_labels

__all__ = [
    "CLEAR", "PROFILE_NAMES", "Corruption", "ImageFormatError", "ProfileError", "UnknownCorruptionError", "apply_corruption",
    "apply_corruption_labels", "corruption_rng", "describe_corruptions", "get_corruption", "list_corruptions",
    "parse_profile", "profile", "register_corruption", "split_name", "to_rgb_uint8",
]
