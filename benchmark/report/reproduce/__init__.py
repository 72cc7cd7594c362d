"""Reproduction suites: rerun a seed paper's table and show reported, reproduced and their difference.

A suite (``benchmark/report/reported/suites.json``) names datasets, conditions, protocols, metrics and the
papers' models. ``reproduce`` checks every input first and fails with one message listing what is
missing (``status``), then builds the datasets it lacks (resumable), evaluates each model on each
(cached per build, model and protocol) (``run``), computes each printed cell from the result rows
through ``report.aggregate`` (``tabulate``) and writes ``<suite>.csv`` and ``<suite>.md``
(``render``). Inputs robustseg cannot provide (no reader, no released weights, no matching protocol)
are not errors: their cells keep the reported number and say why nothing was reproduced."""
from .render import write_csv, write_markdown
from .run import reproduce, synthetic_override
from .status import (InputStatus, MissingInputsError, SuiteStatus, format_status, get_suite, list_suites_status,
                     suite_status)
from .tabulate import Cell

__all__ = ["Cell", "InputStatus", "MissingInputsError", "SuiteStatus", "format_status", "get_suite",
           "list_suites_status", "reproduce", "suite_status", "synthetic_override", "write_csv", "write_markdown"]
