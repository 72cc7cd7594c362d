"""The import rules of the stage layout (README, "Repository layout"), checked on the source text, so a
sideways import fails CI instead of slowly eroding the design."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("corruptions", "baselines", "benchmark")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module this file imports, relative imports resolved, at any depth (lazy imports count too)."""
    mod = _module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            out |= {f"{target}.{a.name}" for a in node.names}
    return out


def _files(package: str):
    return sorted((REPO / package).rglob("*.py"))


def _ours(imports: set[str]) -> set[str]:
    return {i for i in imports if i.split(".")[0] in PACKAGES}


@pytest.mark.parametrize("path", _files("corruptions"), ids=lambda p: str(p.relative_to(REPO)))
def test_corruptions_import_nothing_of_ours(path):
    assert not {i for i in _ours(_imports(path)) if not i.startswith("corruptions")}


@pytest.mark.parametrize("path", _files("baselines"), ids=lambda p: str(p.relative_to(REPO)))
def test_baselines_never_import_benchmark(path):
    assert not {i for i in _imports(path) if i.split(".")[0] == "benchmark"}


RULES = {  # stage -> stages it must not import
    "benchmark.data": ("benchmark.eval", "benchmark.report", "benchmark.train", "benchmark.vocab", "benchmark.pipeline",
                       "benchmark.cli"),
    "benchmark.eval": ("benchmark.report", "benchmark.train", "benchmark.pipeline", "benchmark.cli"),
    "benchmark.report": ("benchmark.train", "benchmark.pipeline", "benchmark.cli"),
    "benchmark.train": ("benchmark.report", "benchmark.pipeline", "benchmark.cli"),
}


@pytest.mark.parametrize("path", [p for p in _files("benchmark") if _module_name(p).count(".") >= 1
                                  and _module_name(p).rsplit(".", _module_name(p).count(".") - 1)[0] in RULES],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_stage_imports_flow_one_way(path):
    mod = _module_name(path)
    stage = next(s for s in RULES if mod == s or mod.startswith(s + "."))
    bad = {i for i in _imports(path) for f in RULES[stage] if i == f or i.startswith(f + ".")}
    assert not bad, f"{mod} imports {sorted(bad)}"


def test_report_reads_results_only_through_results_module():
    readers = {p.relative_to(REPO).as_posix() for p in _files("benchmark/report")
               if "RESULT_SCHEMA" in p.read_text() or "eval.records" in p.read_text()}
    assert readers == {"benchmark/report/results.py"}


def test_modules_stay_small():
    big = {p.relative_to(REPO).as_posix(): n for p in _files("benchmark") + _files("baselines") + _files("corruptions")
           if (n := len(p.read_text().splitlines())) >= 400}
    assert not big, big


@pytest.mark.parametrize("path", _files("corruptions") + _files("baselines") + _files("benchmark"),
                         ids=lambda p: str(p.relative_to(REPO)))
def test_classes_at_module_level(path):
    """A class defined inside a function is a new class per call: isinstance and editors cannot follow it."""
    tree = ast.parse(path.read_text(), str(path))
    nested = [f"{f.name}.{n.name}" for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f) if isinstance(n, ast.ClassDef)]
    assert not nested, nested
