"""Numbers the seed papers print in their evaluation tables, as typed rows marked ``reported``.

One CSV per paper beside this file; each row is one printed cell, value kept as printed.
Leaderboards show these next to measured rows; nothing here is ever presented as measured.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from .vocab import CONDITIONS, DATASETS, METRICS, PAPERS, PROTOCOL_RE, UNITS, Paper

__all__ = ["ReportedRow", "ReportedDataError", "load_reported", "read_csv", "PAPERS", "Paper", "COLUMNS", "DATA_DIR"]

COLUMNS = ("paper", "table", "model", "dataset", "split", "condition", "severity", "protocol", "metric", "value",
           "unit", "note")
DATA_DIR = Path(__file__).resolve().parent
_NUMBER = re.compile(r"^\d+\.\d+$")
_TABLE = re.compile(r"^Table \d+$")


class ReportedDataError(ValueError):
    """A reported-numbers CSV that breaks the schema or the vocabularies; names file and line."""


@dataclass(frozen=True)
class ReportedRow:
    paper: str
    table: str
    model: str
    dataset: str
    split: str
    condition: str
    severity: int
    protocol: str  # <prompt>[@<rounds>][/single], see vocab.PROTOCOL_RE
    metric: str
    printed: str  # the value exactly as the paper prints it
    unit: str  # "fraction" or "percent", as printed
    note: str = ""

    @property
    def value(self) -> float:
        return float(self.printed)

    @property
    def percent(self) -> float:
        """The value in percent, the unit of robustseg leaderboards."""
        return 100.0 * self.value / UNITS[self.unit]

    @property
    def prompt(self) -> str:
        return PROTOCOL_RE.match(self.protocol)["prompt"]

    @property
    def rounds(self) -> int:
        """Interactive rounds: the first prompt plus corrective points."""
        return int(PROTOCOL_RE.match(self.protocol)["rounds"] or 1)

    @property
    def single_output(self) -> bool:
        """True when one output fixed in advance is scored, False for the best of the multimask outputs."""
        return PROTOCOL_RE.match(self.protocol)["single"] is not None

    @property
    def source(self) -> str:
        return f"{self.paper} {self.table}"


def _check(rec: dict, where: str) -> ReportedRow:
    def bad(what: str) -> ReportedDataError:
        return ReportedDataError(f"{where}: {what}")

    for field in ("paper", "table", "model", "dataset", "split", "protocol", "metric", "value", "unit"):
        if not rec.get(field, "").strip():
            raise bad(f"empty {field!r}")
    if rec["paper"] not in PAPERS:
        raise bad(f"unknown paper {rec['paper']!r}; known: {', '.join(PAPERS)}")
    if not _TABLE.match(rec["table"]):
        raise bad(f"table {rec['table']!r} is not of the form 'Table N'")
    if rec["dataset"] not in DATASETS:
        raise bad(f"unknown dataset {rec['dataset']!r} (add it to benchmark/report/reported/vocab.py DATASETS)")
    if rec["condition"] not in CONDITIONS:
        raise bad(f"unknown condition {rec['condition']!r}; known: {', '.join(sorted(CONDITIONS))}")
    if not PROTOCOL_RE.match(rec["protocol"]):
        raise bad(f"protocol {rec['protocol']!r} does not match <point|box|boundary_point>[@rounds][/single]")
    if rec["metric"] not in METRICS:
        raise bad(f"unknown metric {rec['metric']!r}; known: {', '.join(METRICS)}")
    if rec["unit"] not in UNITS:
        raise bad(f"unknown unit {rec['unit']!r}; known: {', '.join(UNITS)}")
    if not _NUMBER.match(rec["value"]):
        raise bad(f"value {rec['value']!r} is not a printed decimal number")
    if float(rec["value"]) > UNITS[rec["unit"]]:
        raise bad(f"value {rec['value']} exceeds the range of unit {rec['unit']!r}")
    try:
        severity = int(rec["severity"])
    except ValueError:
        raise bad(f"severity {rec['severity']!r} is not an integer") from None
    return ReportedRow(rec["paper"], rec["table"], rec["model"], rec["dataset"], rec["split"], rec["condition"],
                       severity, rec["protocol"], rec["metric"], rec["value"], rec["unit"], rec["note"])


def read_csv(path: str | Path) -> list[ReportedRow]:
    """Rows of one CSV, in file order (the papers' reading order), validated."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ReportedDataError(f"{path}: header {reader.fieldnames} != {list(COLUMNS)}")
        return [_check(rec, f"{path}:{reader.line_num}") for rec in reader]


def load_reported(data_dir: str | Path = DATA_DIR) -> list[ReportedRow]:
    """All transcribed rows of every paper CSV in ``data_dir``, papers in file-name order."""
    return [row for path in sorted(Path(data_dir).glob("*.csv")) for row in read_csv(path)]
