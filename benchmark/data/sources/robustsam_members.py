"""Which original dataset each image of RobustSAM's pooled ``test`` split comes from.

RobustSAM's release ships one ``test`` split that pools MSRA10K, NDD20, STREETS and FSS-1000
(its download.sh and README), but its Table 2 reports MSRA10K alone and Table 4 the other three;
the release says nothing about which file is which, and its file names could not be seen here.
Two rules, in this order:

1. a members list the user supplies (``members_file``): one ``<file name>,<member>`` line per
   image, for instance derived by matching the release against the original datasets; it must
   name every image of the split, so a partial list fails instead of silently mixing;
2. otherwise the default rule below, by image size (read from the file header). It is an
   ASSUMPTION about the originals, not a fact of the release: FSS-1000 publishes every image at
   224x224; MSRA10K images have a longest side of at most 400 pixels; STREETS traffic-camera
   stills are taken as 720x480; every other image is taken as NDD20. The rule is data
   (``SIZE_RULE``) and is printed in every suite's markdown that uses it.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Sequence

from PIL import Image

from .errors import BadSampleError
from ...errors import BadInputError, MissingInputError, UsageError

MEMBERS = ("msra10k", "ndd20", "streets", "fss1000")
# (member, test, value) in order; the first that matches wins. "size": (width, height) exactly;
# "max_side": longest side <= value; "else": always.
SIZE_RULE = (("fss1000", "size", (224, 224)), ("msra10k", "max_side", 400), ("streets", "size", (720, 480)),
             ("ndd20", "else", None))
RULE_TEXT = ("assumed by image size (no list in the release): 224x224 -> FSS-1000; longest side <= 400 -> MSRA10K; "
             "720x480 -> STREETS; any other size -> NDD20. Pass members_file=<csv of file name,member> to use a "
             "list instead")
_LINE = re.compile(r"^([^,/\\]+),\s*([a-z0-9]+)\s*$")


def parse_members(text: str) -> set[str]:
    """The members named by a ``member`` option (comma list); each must be one of MEMBERS."""
    wanted = {m.strip() for m in text.split(",") if m.strip()}
    unknown = sorted(wanted - set(MEMBERS))
    if unknown or not wanted:
        raise UsageError(f"robustsam_release: member must be a comma list of {', '.join(MEMBERS)}, not {text!r}")
    return wanted


def read_members_file(path: Path) -> dict[str, str]:
    """file name -> member from a ``<file name>,<member>`` list (blank lines and ``#`` comments ignored)."""
    if not path.is_file():
        raise MissingInputError(f"robustsam_release: members_file {path} not found")
    out: dict[str, str] = {}
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m or m.group(2) not in MEMBERS:
            raise BadInputError(f"{path}:{k}: expected '<file name>,<member>' with member one of {', '.join(MEMBERS)}, "
                             f"got {line[:80]!r}")
        if m.group(1) in out:
            raise BadInputError(f"{path}:{k}: {m.group(1)} is listed twice")
        out[m.group(1)] = m.group(2)
    return out


def member_by_size(width: int, height: int) -> str:
    """The default rule (SIZE_RULE), an assumption: see the module doc."""
    for member, test, value in SIZE_RULE:
        if test == "else" or (test == "size" and (width, height) == value) or \
                (test == "max_side" and max(width, height) <= value):
            return member
    raise AssertionError("SIZE_RULE ends with an 'else' entry")


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image header, without decoding the pixels."""
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, ValueError) as e:
        raise BadSampleError(path, f"cannot read the image header: {e}") from None


def members_of(files: Sequence[Path], listed: Optional[dict[str, str]]) -> list[str]:
    """The member of every file, by the list when given (it must name each file), else by size."""
    if listed is None:
        return [member_by_size(*image_size(p)) for p in files]
    absent = [p.name for p in files if p.name not in listed]
    if absent:
        raise BadInputError(f"robustsam_release: members_file does not name {len(absent)} image(s) of the split, "
                         f"e.g. {absent[0]}; it must name every one")
    return [listed[p.name] for p in files]
