"""Summaries of severity profiles as ImageNet-C's users expect them (Hendrycks & Dietterich, ICLR 2019):
per corruption the mean over severities, the mean over all corruptions, and the corruption error (CE)
relative to a named reference model, with its mean (mCE) and the relative mCE.

Segmentation has no top-1 error, so the error here is 100 - mIoU (percent). With E(m, c, s) that error
for model m under corruption c at severity s, and E(m, clear) on the clear images:

    CE(m, c)          = sum_s E(m, c, s) / sum_s E(ref, c, s)
    relative CE(m, c) = sum_s (E(m, c, s) - E(m, clear)) / sum_s (E(ref, c, s) - E(ref, clear))

mCE and relative mCE are the means of CE and relative CE over corruptions, in percent as the paper
prints them. As in the paper they average the 15 benchmark corruptions only when the profile is
``imagecorruptions`` (the 4 extra ones get their own CE column but stay out of the mean); for other
severity profiles they average every corruption present. A reference whose sum is zero leaves that CE
undefined (empty). The wide per-severity detail stays in the track's CSV."""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np

from corruptions.profiles import IMAGECORRUPTIONS

from ..vocab import format_value

#: Hendrycks & Dietterich's 15 benchmark corruptions (the 4 after them are their "extra" set)
MCE_CORRUPTIONS = IMAGECORRUPTIONS[:15]


@dataclass(frozen=True)
class CorruptionSummary:
    """One (dataset, protocol, model): mIoU means per corruption over severities, and CEs vs ``reference``."""

    dataset: str
    protocol: str
    model: str
    clear: float
    per_corruption: dict  # corruption -> mean mIoU over its severities
    mean: float  # mean over corruptions of ``per_corruption``
    reference: str = ""
    ce: dict = field(default_factory=dict)  # corruption -> CE (percent)
    mce: float = math.nan
    relative_mce: float = math.nan


def _errors(rows: list) -> dict[tuple, dict]:
    """(dataset, protocol, model) -> {"clear": E, corruption: {severity: E}} with E = 100 - mIoU."""
    out: dict[tuple, dict] = {}
    for r in rows:
        if "mIoU" not in r.values or "@" in r.protocol:
            continue
        e = out.setdefault((r.dataset, r.protocol, r.model), {})
        if r.condition == "clear":
            e["clear"] = 100 - r.values["mIoU"]
        elif r.severity > 0:
            e.setdefault(r.condition, {})[r.severity] = 100 - r.values["mIoU"]
    return out


def _ce(err: dict, ref: dict, corruption: str, relative: bool) -> float:
    sevs = sorted(set(err.get(corruption, {})) & set(ref.get(corruption, {})))
    if not sevs or (relative and ("clear" not in err or "clear" not in ref)):
        return math.nan
    own = sum(err[corruption][s] - (err["clear"] if relative else 0) for s in sevs)
    base = sum(ref[corruption][s] - (ref["clear"] if relative else 0) for s in sevs)
    return 100 * own / base if base != 0 else math.nan


def _nanmean(values: list[float]) -> float:
    v = [x for x in values if not math.isnan(x)]
    return float(np.mean(v)) if v else math.nan


def summarise(rows: list, reference: str | None = None) -> list[CorruptionSummary]:
    """Summaries of every (dataset, protocol, model) with graded corruptions (severity > 0) among
    ``rows`` (measured leaderboard rows). ``reference`` names the model CEs are relative to; when it was
    not evaluated on a (dataset, protocol), CEs there stay empty."""
    errors = _errors(rows)
    out = []
    for (dataset, protocol, model), err in sorted(errors.items()):
        corruptions = sorted(c for c in err if c != "clear")
        if not corruptions:
            continue
        per = {c: 100 - float(np.mean(list(err[c].values()))) for c in corruptions}
        ref = errors.get((dataset, protocol, reference)) if reference else None
        ce, rel = {}, {}
        if ref is not None:
            ce = {c: _ce(err, ref, c, False) for c in corruptions}
            rel = {c: _ce(err, ref, c, True) for c in corruptions}
        in_mean = [c for c in corruptions if c in MCE_CORRUPTIONS] \
            if set(corruptions) <= set(IMAGECORRUPTIONS) else corruptions
        out.append(CorruptionSummary(
            dataset, protocol, model, 100 - err["clear"] if "clear" in err else math.nan, per,
            float(np.mean(list(per.values()))), reference or "", ce,
            _nanmean([ce[c] for c in in_mean]) if ce else math.nan,
            _nanmean([rel[c] for c in in_mean]) if rel else math.nan))
    return out


def summary_csv(summaries: list[CorruptionSummary]) -> str:
    """Long format, one row per (dataset, protocol, model, corruption); corruption ``all`` carries the
    mean over corruptions with mCE and relative mCE."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["dataset", "protocol", "model", "reference", "corruption", "mIoU", "CE", "relative_mCE"])
    for s in summaries:
        for c, v in s.per_corruption.items():
            w.writerow([s.dataset, s.protocol, s.model, s.reference, c, format_value(v),
                        format_value(s.ce.get(c)), ""])
        w.writerow([s.dataset, s.protocol, s.model, s.reference, "all", format_value(s.mean), format_value(s.mce),
                    format_value(s.relative_mce)])
    return buf.getvalue()


def summary_markdown(track: str, summaries: list[CorruptionSummary]) -> str:
    """Per (dataset, protocol): models with clear, mean over corruptions, mCE, relative mCE; then the
    per-corruption means with corruptions as rows (so 19 corruptions stay a readable table)."""
    ref = next((s.reference for s in summaries if s.reference), "")
    lines = [f"# {track}: corruption summary (mIoU %, error = 100 - mIoU)", "",
             f"CE relative to `{ref}` (ImageNet-C's definitions, docs/leaderboards.md)." if ref else
             "No reference model given (`--reference-model`): CE, mCE and relative mCE are left out.", ""]
    for key in sorted({(s.dataset, s.protocol) for s in summaries}):
        group = [s for s in summaries if (s.dataset, s.protocol) == key]
        lines += [f"## {key[0]} ({key[1]})", "", "| model | clear | mean over corruptions | mCE | relative mCE |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {s.model} | {format_value(s.clear)} | {format_value(s.mean)} | {format_value(s.mce)} | "
                  f"{format_value(s.relative_mce)} |" for s in group]
        corruptions = sorted({c for s in group for c in s.per_corruption})
        lines += ["", "| corruption | " + " | ".join(s.model for s in group) + " |",
                  "|---|" + "---:|" * len(group)]
        lines += [f"| {c} | " + " | ".join(format_value(s.per_corruption.get(c)) for s in group) + " |"
                  for c in corruptions]
        lines.append("")
    return "\n".join(lines)
