"""Profiles as data: an ordered list of (corruption key, severity). ``clear`` is implicit."""
from __future__ import annotations

from .registry import UnknownCorruptionError, get_corruption

CLEAR = "clear"

#: RobustSAM's 15 Robust-Seg degradations in the order of its augment.py table (= folder names).
ROBUSTSAM = (
    "snow", "fog", "rain", "gauss_noise", "ISO_noise", "impulse_noise", "resampling_blur", "motion_blur",
    "zoom_blur", "color_jitter", "compression", "elastic_transform", "frosted_glass_blur", "brightness", "contrast",
)
#: ``imagecorruptions.get_corruption_names('all')``: the 15 common then the 4 extra corruptions.
IMAGECORRUPTIONS = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",
    "speckle_noise", "gaussian_blur", "spatter", "saturate",
)

_PROFILES: dict[str, tuple[tuple[str, int], ...]] = {
    "robustsam": tuple((f"robustsam/{n}", 0) for n in ROBUSTSAM),
    "imagecorruptions": tuple((f"imagecorruptions/{n}", s) for n in IMAGECORRUPTIONS for s in range(1, 6)),
    "clear": (),
}
PROFILE_NAMES = tuple(_PROFILES)


class ProfileError(ValueError):
    """A corruption asked for at a severity it does not have."""


def profile(name: str) -> list[tuple[str, int]]:
    """The named profile as (corruption key, severity) pairs, in its reference order."""
    if name not in _PROFILES:
        raise UnknownCorruptionError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILE_NAMES)}")
    return list(_PROFILES[name])


def parse_profile(spec: str) -> list[tuple[str, int]]:
    """A profile name, or a comma list of ``name`` / ``name:severity`` items."""
    if spec in PROFILE_NAMES:
        return profile(spec)
    items = [s.strip() for s in spec.split(",")]
    if not all(items):
        raise ProfileError(f"profile {spec!r} has an empty item; give a profile ({', '.join(PROFILE_NAMES)}) or a "
                           "comma list of name[:severity]")
    out = []
    for item in items:
        name, _, sev = item.partition(":")
        try:
            c = get_corruption(name)
        except UnknownCorruptionError:
            if len(items) == 1 and not sev and "/" not in name:  # most likely a mistyped profile name
                raise UnknownCorruptionError(f"unknown profile or corruption {spec!r}; valid profiles: "
                                             f"{', '.join(PROFILE_NAMES)}, or a comma list of corruption names "
                                             "(see `robustseg corruptions`)") from None
            raise
        if sev and not (sev.isdigit() and int(sev) in c.severities):
            raise ProfileError(f"corruption {c.key!r} has severities {c.severities}, not {sev!r}")
        for s in [int(sev)] if sev else list(c.severities):
            if (c.key, s) in out:  # both would write the same split: every row twice
                raise ProfileError(f"profile {spec!r} names {c.key!r} severity {s} twice")
            out.append((c.key, s))
    return out


def split_name(condition: str, severity: int) -> str:
    """Dataset split for a condition: the name, plus ``_<severity>`` where severity applies."""
    return condition if severity == 0 else f"{condition}_{severity}"
