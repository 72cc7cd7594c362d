"""Per-dataset configurations of the generic readers, as data (presets.json), each registered as a source.

A salient or part set published as image and mask folders is an ``image_mask_folders`` configuration;
an instance set published as COCO-style json is a ``coco`` (or, for LVIS-format json, ``lvis``)
configuration. Adding such a set is one entry in presets.json: its layout, defaults, licence,
citation, where the layout was confirmed (``layout_from``) and what could not be (``unconfirmed``),
which ``robustseg sources`` and docs/sources.md show."""
from __future__ import annotations

import json
import os
from pathlib import Path

from .base import register_source
from .coco import CocoSource, LvisSource
from .folders import _preset
from ...errors import UsageError

PRESETS_FILE = Path(__file__).with_name("presets.json")
_COCO_BASES = {"coco": CocoSource, "lvis": LvisSource}
_KEYS = {"description", "layout", "defaults", "license", "citation", "homepage", "layout_from", "unconfirmed"}


def _check(kind: str, name: str, spec: dict) -> None:
    need = _KEYS | ({"base"} if kind == "coco" else set())
    if set(spec) != need:
        raise ValueError(f"{PRESETS_FILE}: preset {name!r}: fields must be {sorted(need)}, not {sorted(spec)}")
    if kind == "coco" and spec["base"] not in _COCO_BASES:
        raise ValueError(f"{PRESETS_FILE}: preset {name!r}: base must be one of {sorted(_COCO_BASES)}")


def _description(spec: dict) -> str:
    note = f" [layout from {spec['layout_from']}]" if spec["layout_from"] else " [layout UNCONFIRMED]"
    return spec["description"] + note


def _first(source: str, first) -> int:
    if not isinstance(first, int) or isinstance(first, bool) or first < 0:
        raise UsageError(f"{source}: first must be a whole number >= 0 (0 = every image), not {first!r}")
    return first


def _coco_preset(name: str, spec: dict) -> type:
    base, defaults = _COCO_BASES[spec["base"]], dict(spec["defaults"])

    def __init__(self, root: str | os.PathLike, first: int = 0, **options):
        unknown = sorted(set(options) - set(defaults))
        if unknown:
            raise UsageError(f"{self.name}: unknown option {', '.join(unknown)}; valid options: "
                             f"{', '.join(sorted([*defaults, 'first']))}")
        first = _first(self.name, first)  # checked before the annotation file is read
        base.__init__(self, root, **{**defaults, **options})
        if first:  # SUM evaluates on "the first 1,000 images" of some validation sets
            self.items = self.items[:first]
            self.options = {**self.options, "first": first}

    attrs = {"__init__": __init__, "__doc__": spec["description"], "license": spec["license"],
             "citation": spec["citation"], "homepage": spec["homepage"], "layout_from": spec["layout_from"],
             "unconfirmed": spec["unconfirmed"]}
    cls = type(f"{name.title().replace('_', '')}Source", (base,), attrs)
    return register_source(name, description=_description(spec), layout=spec["layout"])(cls)


def load_presets(path: Path = PRESETS_FILE) -> dict:
    """The preset table, validated: {"folders": {name: spec}, "coco": {name: spec}}."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for kind in ("folders", "coco"):
        for name, spec in data[kind].items():
            _check(kind, name, spec)
    return data


def register_presets() -> None:
    data = load_presets()
    for name, spec in data["folders"].items():
        cls = _preset(name, _description(spec), spec["layout"], spec["defaults"], spec["license"], spec["citation"],
                      spec["homepage"])
        cls.layout_from, cls.unconfirmed = spec["layout_from"], spec["unconfirmed"]
    for name, spec in data["coco"].items():
        _coco_preset(name, spec)


register_presets()
