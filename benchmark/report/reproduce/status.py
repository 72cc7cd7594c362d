"""What a suite needs (datasets, checkpoints) and whether each input is present; nothing is read but folders."""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

from ..reported import PAPERS, load_reported
from ..reported.suites import SourceInput, Suite, SuiteDataset, SuiteModel, load_suites
from ...errors import UnknownNameError, UserError

ModelSelection = Union[Mapping[str, Optional[str]], Sequence[str], None]


class MissingInputsError(UserError, FileNotFoundError):
    """A suite cannot run: the message lists every missing dataset folder and checkpoint at once."""


@dataclass(frozen=True)
class InputStatus:
    kind: str  # "dataset", "model", or "train" (data a checkpoint is trained on: listed, never required)
    name: str  # suite dataset key, the paper's model name, or a training source
    state: str  # present | missing | unavailable (robustseg cannot provide it) | skipped (not selected) | absent (train)
    detail: str
    registry: Optional[str] = None  # models: the robustseg model that runs for it
    checkpoint: Optional[str] = None
    random_weights: bool = False  # models: runs on random init (no checkpoint), so its numbers are labelled


@dataclass(frozen=True)
class SuiteStatus:
    suite: str
    paper: str
    tables: tuple[str, ...]
    inputs: tuple[InputStatus, ...]

    @property
    def missing(self) -> list[InputStatus]:
        return [i for i in self.inputs if i.state == "missing"]

    @property
    def runnable(self) -> bool:
        """Some dataset has a reader and some model has weights, present or not yet."""
        return {i.kind for i in self.inputs if i.state in ("present", "missing")} == {"dataset", "model"}

    @property
    def ready(self) -> bool:
        return self.runnable and not self.missing


def get_suite(name: str) -> Suite:
    suites = {s.name: s for s in load_suites()}
    if name not in suites:
        raise UnknownNameError(f"unknown suite {name!r}; valid suites: {', '.join(suites)}")
    return suites[name]


def input_root(inp: SourceInput, data_root: Optional[Path]) -> Optional[Path]:
    if inp.root is None:
        return None
    root = Path(inp.root)
    return root if root.is_absolute() or data_root is None else data_root / root


def _input_problem(inp: SourceInput, data_root: Optional[Path]) -> Optional[str]:
    """Why one source's files are not where the suite expects them (with where to download them), or None."""
    root = input_root(inp, data_root)
    if root is None:
        return None
    if data_root is None and not Path(inp.root).is_absolute():
        problem = f"{inp.source}: needs --data-root (expects <data-root>/{inp.root})"
    elif not root.is_dir():
        problem = f"{inp.source}: folder {root} not found"
    else:
        absent = [r for r in inp.requires if not any((root / a).exists() for a in r.split("|"))]
        if not absent:
            return None
        problem = f"{inp.source}: {root} lacks {', '.join(a.replace('|', ' or ') for a in absent)}"
    if inp.download:
        where = root if data_root is not None else Path("<data-root>") / inp.root
        problem += " (download " + "; ".join(f"{u} to {where / d}" for u, d in
                                             (x.split(" -> ", 1) for x in inp.download)) + ")"
    return problem


def _where(inp: SourceInput, data_root: Optional[Path]) -> str:
    root = input_root(inp, data_root)
    return inp.source if root is None else f"{inp.source} at {root}"


def _dataset_status(ds: SuiteDataset, data_root: Optional[Path]) -> InputStatus:
    if not ds.inputs:
        return InputStatus("dataset", ds.dataset, "unavailable", "no robustseg reader for it")
    problems = [p for p in (_input_problem(i, data_root) for i in ds.inputs) if p]
    if problems:
        return InputStatus("dataset", ds.dataset, "missing", "; ".join(problems))
    return InputStatus("dataset", ds.dataset, "present", ", ".join(_where(i, data_root) for i in ds.inputs))


def _training_status(inp: SourceInput, data_root: Optional[Path]) -> InputStatus:
    """A source a suite's checkpoint is trained on: only listed (a supplied checkpoint needs no training data)."""
    options = "".join(f" {k}={v}" for k, v in inp.options.items())
    problem = _input_problem(inp, data_root)
    if problem:
        return InputStatus("train", inp.source + options, "absent",
                           f"needed only to train a checkpoint here; {problem.split(': ', 1)[1]}")
    return InputStatus("train", inp.source + options, "present", _where(inp, data_root))


def _selection(suite: Suite, models: ModelSelection) -> Optional[dict[str, Optional[str]]]:
    if models is None:
        return None
    chosen = dict(models) if isinstance(models, Mapping) else {m: None for m in models}
    unknown = sorted(set(chosen) - {m.name for m in suite.models})
    if unknown:
        raise UnknownNameError(f"suite {suite.name}: unknown model(s) {unknown}; its models: "
                       f"{', '.join(m.name for m in suite.models)}")
    return chosen


def _model_status(m: SuiteModel, substitute: Optional[str], checkpoints: Mapping[str, Optional[str]]) -> InputStatus:
    from baselines import resolve_model
    from baselines.registry import CHECKPOINT_SEPARATOR, split_checkpoint

    candidates = [substitute] if substitute else list(m.registry)
    if not candidates:
        return InputStatus("model", m.name, "unavailable", f"no robustseg model for it (weights: {m.weights})")
    for name in candidates:
        info = resolve_model(name)
        if not info.checkpoint_files:
            return InputStatus("model", m.name, "present", f"{name} (weight-free)", name)
        if name in checkpoints:
            path = checkpoints[name]
            if path is None:
                return InputStatus("model", m.name, "present", f"{name} (random init: not the paper's model)", name,
                                   random_weights=True)
            absent = [p for p in split_checkpoint(name, info.checkpoint_files, path) if not Path(p).is_file()]
            if absent:
                return InputStatus("model", m.name, "missing", f"{name}: checkpoint file {', '.join(absent)} not found",
                                   name)
            return InputStatus("model", m.name, "present", f"{name} from {path}", name, str(path))
    need = " or ".join(f"--checkpoint {c}={_placeholder(c, CHECKPOINT_SEPARATOR)}" for c in candidates)
    if substitute or m.weights == "public":
        return InputStatus("model", m.name, "missing", f"needs {need}")
    if m.weights == "train":  # no released weights robustseg reads; the suite says how to train them
        return InputStatus("model", m.name, "missing", f"needs a checkpoint: {m.note}")
    return InputStatus("model", m.name, "unavailable", f"weights {m.weights}; to run your own: {need}")


def _placeholder(name: str, separator: str) -> str:
    """``PATH``, or for a model that loads several files (restoration + SAM) their names joined as it takes them."""
    from baselines import resolve_model

    files = resolve_model(name).checkpoint_files
    return separator.join(files) if len(files) > 1 else "PATH"


def suite_status(suite: Suite, data_root: Optional[str | os.PathLike], checkpoints: Mapping[str, Optional[str]],
                 *, models: ModelSelection = None, datasets: Optional[Sequence[str]] = None,
                 dataset_override: Optional[Mapping[str, SuiteDataset]] = None) -> SuiteStatus:
    """What a rerun of ``suite`` needs and whether each input is present (nothing is read but folders)."""
    root = None if data_root is None else Path(data_root)
    override = dict(dataset_override or {})
    known = {d.dataset for d in suite.datasets}
    unknown = sorted((set(datasets or ()) | set(override)) - known)
    if unknown:
        raise UnknownNameError(f"suite {suite.name}: unknown dataset(s) {unknown}; its datasets: {', '.join(sorted(known))}")
    inputs = []
    for ds in suite.datasets:
        st = _dataset_status(override.get(ds.dataset, ds), root)
        if datasets is not None and ds.dataset not in datasets and st.state != "unavailable":
            st = InputStatus("dataset", ds.dataset, "skipped", "not selected")
        inputs.append(st)
    chosen = _selection(suite, models)
    for m in suite.models:
        if chosen is not None and m.name not in chosen:
            inputs.append(InputStatus("model", m.name, "skipped", "not selected"))
        else:
            inputs.append(_model_status(m, (chosen or {}).get(m.name), checkpoints))
    inputs += [_training_status(inp, root) for inp in suite.training]
    return SuiteStatus(suite.name, suite.paper, suite.tables, tuple(inputs))


def list_suites_status(data_root: Optional[str | os.PathLike],
                       checkpoints: Optional[Mapping[str, Optional[str]]] = None) -> list[SuiteStatus]:
    """Every suite with, per dataset and model, whether it is present, missing or unavailable here."""
    return [suite_status(s, data_root, checkpoints or {}) for s in load_suites()]


def cell_counts(suite: Suite, status: SuiteStatus) -> tuple[int, int]:
    """(runnable, total) printed cells (planned cells for a suite without tables). A cell is runnable
    when its model has a robustseg model whose weights exist (present or to be supplied), its dataset
    (every member, for an average) has a reader, and its protocol maps to a robustseg protocol."""
    ok = {(i.kind, i.name) for i in status.inputs if i.state in ("present", "missing", "skipped")}

    def readable(d: str) -> bool:
        return all(("dataset", m) in ok for m in suite.aggregate_members.get(d, (d,)))

    rows = suite.reported(load_reported())
    keys = [(r.model, r.dataset, r.protocol) for r in rows] or [
        (m.name, d, p) for m, d, _, p, _ in itertools.product(
            suite.models, [d.dataset for d in suite.datasets] + list(suite.aggregates), suite.conditions,
            suite.protocols, suite.scalar_metrics)]
    runnable = sum(1 for m, d, p in keys if ("model", m) in ok and readable(d) and suite.match(p).protocol)
    return runnable, len(keys)


def format_status(statuses: Sequence[SuiteStatus]) -> str:
    """The text of ``robustseg reproduce --list``."""
    suites = {s.name: s for s in load_suites()}
    lines = []
    for st in statuses:
        s = suites[st.suite]
        tables = ", ".join(st.tables) or "no tables in the seed"
        state = "ready" if st.ready else "MISSING INPUTS" if st.runnable else "nothing runnable"
        runnable, total = cell_counts(s, st)
        lines += [f"{st.suite}  [{state}]", f"  {PAPERS[st.paper].title} ({PAPERS[st.paper].venue}): {tables}",
                  f"  {s.title}", f"  cells   {runnable} of {total} runnable given the named data and checkpoints"]
        for kind in ("dataset", "model", "train"):
            for i in (i for i in st.inputs if i.kind == kind):
                lines.append(f"  {kind:7s} {i.state:11s} {i.name}: {i.detail}")
        if s.training_note:
            lines.append(f"  to train: {s.training_note}")
        lines.append("")
    return "\n".join(lines)


def build_model(st: InputStatus, device: str, options: Mapping[str, dict]):
    """The robustseg model ``st`` names, with its checkpoint and ``options[st.registry]``; a model built with
    options carries them in its name (``model[k=v,...]``), so its results never pass for the default's."""
    from baselines.registry import create_named_model

    return create_named_model(st.registry, checkpoint=st.checkpoint, device=device, **options.get(st.registry, {}))
