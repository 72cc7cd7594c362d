"""A suite's CSV and markdown: every printed cell as reported / reproduced (difference)."""
from __future__ import annotations

import csv
import io
from typing import Optional, Sequence

from ...vocab import format_value as _f
from ..reported import PAPERS
from ..reported.suites import Suite
from .status import SuiteStatus
from .tabulate import Cell

CSV_COLUMNS = ("suite", "paper", "table", "model", "our_model", "dataset", "condition", "protocol", "our_protocol",
               "round", "match", "metric", "printed", "reported", "reproduced", "difference", "instances", "note", "data")
STATS_COLUMNS = ("metric", "protocol", "condition", "model_a", "model_b", "datasets", "mean_diff", "statistic",
                 "pvalue", "effect_size")


def write_csv(cells: Sequence[Cell]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for c in cells:
        w.writerow([c.suite, c.paper, c.table, c.model, c.our_model, c.dataset, c.condition, c.protocol,
                    c.our_protocol, c.round, c.match, c.metric, c.printed, _f(c.reported), _f(c.reproduced),
                    _f(c.difference), c.instances, c.note, c.data])
    return buf.getvalue()


def _grid(cells: Sequence[Cell], notes: dict[str, int]) -> list[str]:
    cols = list(dict.fromkeys((c.dataset, c.condition) for c in cells))
    one_dataset, one_condition = len({d for d, _ in cols}) == 1, len({c for _, c in cols}) == 1
    heads = [c if one_dataset else d if one_condition else f"{d} {c}" for d, c in cols]
    rows = list(dict.fromkeys((c.model, c.our_model, c.protocol) for c in cells))
    lines = ["| model (ours) | protocol | " + " | ".join(heads) + " |", "|---|---|" + "---:|" * len(cols)]
    by_key = {(c.model, c.our_model, c.protocol, c.dataset, c.condition): c for c in cells}
    for model, ours, protocol in rows:
        texts = []
        for d, cond in cols:
            c = by_key.get((model, ours, protocol, d, cond))
            if c is None:
                texts.append("")
                continue
            text = f"{_f(c.reported) or '—'} / {_f(c.reproduced) or '—'}"
            if c.difference is not None:
                text += f" ({c.difference:+.2f})"
            if c.reproduced is None and c.note:  # protocol approximations are listed once, under Protocols
                text += f" [{notes.setdefault(c.note, len(notes) + 1)}]"
            texts.append(text)
        lines.append(f"| {model} ({ours or '—'}) | {protocol} | " + " | ".join(texts) + " |")
    return lines


def write_markdown(suite: Suite, status: SuiteStatus, cells: Sequence[Cell], stats: Sequence[dict],
                   limit: Optional[int], data_lines: Sequence[str] = (), sections: Sequence[str] = ()) -> str:
    """The suite's markdown; ``sections`` (lines, e.g. a semantic suite's per-class IoU) go before the
    paper's ambiguities."""
    paper = PAPERS[suite.paper]
    lines = [f"# {suite.name}: {suite.title}", "",
             f"{paper.title} ({paper.venue}), {', '.join(suite.tables) or 'no tables in the seed text'}.", "",
             "Each cell: **reported / reproduced (reproduced − reported)**, in percent. Reported numbers are the "
             "papers' as printed (converted to percent); reproduced ones come from this run.", ""]
    if limit is not None:
        lines += [f"**Subsample:** at most {limit} images per source (`limit`); numbers are not the full sets'.", ""]
    lines += ["## Inputs", ""] + [f"- {i.kind} **{i.name}**: {i.state}, {i.detail}" for i in status.inputs] + [""]
    lines += ["## Data used", ""] + list(data_lines or ["No dataset was read.", ""])
    lines += ["## Protocols", ""] + [f"- {m.paper_protocol} → {m.protocol or 'not runnable'}"
                                     f"{f' round {m.round}' if m.protocol else ''} ({m.match}): {m.note}"
                                     for m in suite.matches] + [""]
    notes: dict[str, int] = {}
    for table, metric in dict.fromkeys((c.table, c.metric) for c in cells):
        sub = [c for c in cells if (c.table, c.metric) == (table, metric)]
        lines += [f"## {table or 'Planned cells'}: {metric}", ""] + _grid(sub, notes) + [""]
    if notes:
        lines += ["## Why a cell has no reproduced number", ""] + [f"{k}. {n}" for n, k in notes.items()] + [""]
    if suite.statistics:
        lines += ["## Statistics", "", f"{suite.statistics}.", ""]
        if stats:
            lines += ["| metric | protocol | condition | model a | model b | datasets | mean a−b | W | p | r |",
                      "|---|---|---|---|---|---:|---:|---:|---:|---:|"]
            lines += [f"| {s['metric']} | {s['protocol']} | {s['condition']} | {s['model_a']} | {s['model_b']} | "
                      f"{s['datasets']} | {s['mean_diff']:.2f} | {s['statistic']:.1f} | {s['pvalue']:.4f} | "
                      f"{s['effect_size']:+.2f} |" for s in stats]
        else:
            lines.append("Not computed: it needs two reproduced models.")
        lines.append("")
    lines += list(sections)
    lines += ["## Ambiguities in the paper", ""] + [f"- {a}" for a in suite.ambiguities] + [""]
    return "\n".join(lines)


def dict_csv(rows: Sequence[dict], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def stats_csv(stats: Sequence[dict]) -> str:
    return dict_csv(stats, STATS_COLUMNS)
