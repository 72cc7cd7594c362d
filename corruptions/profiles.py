"""Profiles as data: an ordered list of (corruption key, severity). ``clear`` is implicit."""
from __future__ import annotations

from .registry import get_corruption, list_corruptions

CLEAR = "clear"


def profile(name: str) -> list[tuple[str, int]]:
    """The named profile; each family's registered corruptions in registration order."""
    if name == "clear":
        return []
    families = {"robustsam": "robustsam", "imagecorruptions": "imagecorruptions"}
    if name not in families:
        raise KeyError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILE_NAMES)}")
    return [(c.key, s) for c in list_corruptions(families[name]) for s in c.severities]


PROFILE_NAMES = ("robustsam", "imagecorruptions", "clear")


def parse_profile(spec: str) -> list[tuple[str, int]]:
    """A profile name, or a comma list of ``name`` / ``name:severity`` items."""
    if spec in PROFILE_NAMES:
        return profile(spec)
    out = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, sev = item.partition(":")
        c = get_corruption(name)
        sevs = [int(sev)] if sev else list(c.severities)
        for s in sevs:
            if s not in c.severities:
                raise ValueError(f"corruption {c.key!r} has severities {c.severities}, not {s}")
            out.append((c.key, s))
    return out


def split_name(condition: str, severity: int) -> str:
    """Dataset split for a condition: the name, plus ``_<severity>`` where severity applies."""
    return condition if severity == 0 else f"{condition}_{severity}"
