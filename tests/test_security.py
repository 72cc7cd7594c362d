"""Security: a hostile checkpoint cannot run code, a broken one is a clear error naming the file, and
the package sources never open a door (trust_remote_code, unrestricted unpickling, downloads).

Every payload below is first shown to work (it does run when loaded unsafely), so a refusal here
means the loader refused it, not that the payload was inert. test_models_statedict checks the basic
refusal and the checkpoint round trips; this file covers payload kinds, file formats, every entry
point that takes a checkpoint, malformed safetensors and the static rules over the sources."""
from __future__ import annotations

import ast
import os
import pickle
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")  # torch notes protocol 4/5

torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402

from baselines.checkpoints import CheckpointError, load_checkpoint, read_state_dict  # noqa: E402
from baselines.registry import create_model, list_models  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmark", "baselines", "corruptions")
SCANNED = PACKAGES + ("benchmarks",)  # the hand-run speed scripts load checkpoints too


# -- hostile pickles -------------------------------------------------------------------------------

class _System:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


class _Open:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


class _Exec:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


PAYLOADS = {"os.system": _System, "builtins.open": _Open, "builtins.exec": _Exec}


def _write(path: Path, obj, fmt: str) -> None:
    if fmt == "torch-zip":
        torch.save(obj, path)
    elif fmt == "torch-legacy":
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    else:  # raw pickle, protocol 2 (what old training scripts wrote) or 5
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=int(fmt[-1]))


def _unsafe_load(path: Path, fmt: str):
    """What a careless loader would do; used only to prove that the payload really runs."""
    if fmt.startswith("torch"):
        return torch.load(path, weights_only=False)
    with open(path, "rb") as f:
        return pickle.load(f)


def _hostile(payload, marker: Path, where: str):
    """The payload at the top level, beside a real tensor, or inside a {"model": ...} wrapper."""
    evil = PAYLOADS[payload](marker)
    return {"top": evil, "beside": {"w": torch.zeros(2), "x": evil},
            "nested": {"model": {"w": torch.zeros(2), "b": evil}, "epoch": 1}}[where]


@pytest.mark.parametrize("where", ["top", "beside", "nested"])
@pytest.mark.parametrize("fmt", ["torch-zip", "torch-legacy", "pickle-2", "pickle-5"])
@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_pickle_that_would_run_code_is_refused(tmp_path, payload, fmt, where):
    marker = tmp_path / "pwned"
    path = tmp_path / f"hostile_{fmt}.pth"
    _write(path, _hostile(payload, marker, where), fmt)
    _unsafe_load(path, fmt)
    assert marker.exists(), "control: the payload must run when loaded unsafely"
    marker.unlink()

    with pytest.raises(CheckpointError) as err:
        read_state_dict(path)
    assert str(path) in str(err.value) and "weights_only=True" in str(err.value)
    assert not marker.exists(), "the checkpoint ran code while being refused"


@pytest.mark.parametrize("suffix", [".pt", ".bin", ".ckpt", ".safetensors", ""])
def test_any_file_name_goes_through_a_safe_loader(tmp_path, suffix):
    marker = tmp_path / "pwned"
    path = tmp_path / f"weights{suffix}"
    _write(path, _hostile("builtins.open", marker, "beside"), "torch-zip")
    with pytest.raises(CheckpointError, match=re.escape(str(path))):
        load_checkpoint(torch.nn.Linear(2, 2), path)
    assert not marker.exists()


def test_every_model_with_weights_refuses_a_hostile_checkpoint(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "hostile.pth"
    _write(path, _hostile("os.system", marker, "nested"), "torch-zip")
    with_weights = [m for m in list_models() if m.checkpoint_files]
    assert len(with_weights) >= 5  # SAM, HQ-SAM, RobustSAM, SUM, GaRA-SAM at least
    for info in with_weights:  # a model loading several files (restoration + SAM) gets the file in each place
        with pytest.raises(CheckpointError, match=re.escape(str(path))):
            create_model(info.name, checkpoint=",".join([str(path)] * len(info.checkpoint_files)), **info.test_kwargs)
        assert not marker.exists(), f"{info.name} ran code from its checkpoint"


# -- broken but harmless files ---------------------------------------------------------------------

def _safetensors_bytes(tmp_path: Path) -> bytes:
    p = tmp_path / "ok.safetensors"
    save_file({"weight": torch.arange(4.0).reshape(2, 2), "bias": torch.ones(2)}, str(p))
    return p.read_bytes()


@pytest.mark.parametrize("damage", ["truncated", "zero-byte", "header-lies", "not-safetensors", "huge-header"])
def test_malformed_safetensors_is_a_clear_error(tmp_path, damage):
    good = _safetensors_bytes(tmp_path)
    n = int.from_bytes(good[:8], "little")
    bad = {
        "truncated": good[:-5],
        "zero-byte": b"",
        "header-lies": good[:8] + good[8:8 + n].replace(b'"data_offsets":[0,', b'"data_offsets":[9,') + good[8 + n:],
        "not-safetensors": b"PK\x03\x04 this is a zip, or anything else",
        "huge-header": (1 << 62).to_bytes(8, "little") + good[8:],
    }[damage]
    assert bad != good
    path = tmp_path / "broken.safetensors"
    path.write_bytes(bad)
    with pytest.raises(CheckpointError, match=re.escape(str(path)) + ": not a valid safetensors file"):
        read_state_dict(path)


def test_safetensors_loads_into_a_module(tmp_path):
    path = tmp_path / "linear.safetensors"
    path.write_bytes(_safetensors_bytes(tmp_path))
    lin = torch.nn.Linear(2, 2)
    sha = load_checkpoint(lin, path)
    assert torch.equal(lin.weight, torch.arange(4.0).reshape(2, 2)) and torch.equal(lin.bias, torch.ones(2))
    assert len(sha) == 64


@pytest.mark.parametrize("content", [b"", b"\x80\x04not a pickle", b"<html>404 Not Found</html>"])
def test_non_checkpoint_pth_is_a_clear_error(tmp_path, content):
    path = tmp_path / "model.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(str(path)) + r": cannot be loaded .*: \w+"):
        read_state_dict(path)


def test_safe_objects_that_are_not_a_state_dict_are_named(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(CheckpointError, match=re.escape(str(path)) + ": expected a dict of tensors, got list"):
        read_state_dict(path)


# -- static rules over the package sources ---------------------------------------------------------

UNPICKLERS = {("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"), ("cPickle", "load"),
              ("dill", "load"), ("dill", "loads"), ("cloudpickle", "load"), ("cloudpickle", "loads"),
              ("joblib", "load"), ("marshal", "load"), ("marshal", "loads"), ("shelve", "open"),
              ("pd", "read_pickle"), ("pandas", "read_pickle"), ("yaml", "load"), ("yaml", "unsafe_load"),
              ("yaml", "full_load")}
DOWNLOADERS = {"hf_hub_download", "snapshot_download", "load_state_dict_from_url", "download_url_to_file",
               "urlopen", "urlretrieve", "load_dataset_builder"}


def _dotted(node: ast.AST) -> tuple[str, ...]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif parts:  # a method of a computed value (``copy.deepcopy(m).eval()``): never the builtin
        parts.append("<expr>")
    return tuple(reversed(parts))


def _kw(call: ast.Call, name: str):
    """The keyword's constant value, ``...`` when passed but not a constant, None when absent (also
    when hidden in **kwargs, so a required keyword must be written out to pass)."""
    for k in call.keywords:
        if k.arg == name:
            return k.value.value if isinstance(k.value, ast.Constant) else ...
    return None


def unsafe_calls(source: str, filename: str = "<source>") -> list[str]:
    """Calls that could run code from data or fetch data at run time, as 'file:line: why'."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        where = f"{filename}:{node.lineno}"
        if name[-1:] == ("load",) and name[-2:-1] in (("torch",), ("serialization",)) and _kw(node, "weights_only") is not True:
            found.append(f"{where}: torch.load without weights_only=True")
        if name[-2:] in UNPICKLERS:
            found.append(f"{where}: {'.'.join(name[-2:])} can run code from the file")
        if name[-2:] in (("np", "load"), ("numpy", "load")) and _kw(node, "allow_pickle") not in (None, False):
            found.append(f"{where}: np.load with allow_pickle")
        if name[-2:] == ("hub", "load"):
            found.append(f"{where}: torch.hub.load runs downloaded code")
        if name in (("eval",), ("exec",)):
            found.append(f"{where}: {name[0]}() of a string")
        if name and name[-1] in DOWNLOADERS:
            found.append(f"{where}: {name[-1]} downloads at run time")
        if _kw(node, "trust_remote_code") is not None:
            found.append(f"{where}: trust_remote_code passed")
        if _kw(node, "shell") not in (None, False):
            found.append(f"{where}: subprocess with shell=True")
    return found


def _sources(dirs=SCANNED, pattern="*.py") -> list[Path]:
    files = sorted(p for d in dirs for p in (REPO / d).rglob(pattern) if "__pycache__" not in p.parts)
    assert files, f"no {pattern} files found under {dirs} in {REPO}"
    return files


def test_the_scanner_catches_every_rule():
    bad = """
import pickle, yaml, numpy as np, torch, subprocess
from huggingface_hub import hf_hub_download
torch.load(p)
torch.load(p, weights_only=False)
torch.load(p, **kw)
torch.serialization.load(p, weights_only=flag)
pickle.loads(b)
yaml.load(s)
np.load(p, allow_pickle=True)
torch.hub.load("repo", "model")
eval(text)
hf_hub_download("repo", "file")
load_dataset("x", trust_remote_code=True)
subprocess.run(cmd, shell=True)
"""
    found = unsafe_calls(bad)
    assert [int(f.split(":")[1]) for f in found] == list(range(4, 16)), found
    safe = """
import numpy as np, torch
torch.load(p, map_location="cpu", weights_only=True)
np.load(p, allow_pickle=False)
np.load(p)
model.eval()
copy.deepcopy(model).eval().requires_grad_(False)
subprocess.run(["robustseg", "eval"], check=True)
"""
    assert unsafe_calls(safe) == []


def test_package_sources_pass_the_static_rules():
    found = [f for path in _sources() for f in unsafe_calls(path.read_text(), str(path.relative_to(REPO)))]
    assert found == [], "unsafe calls in the package:\n" + "\n".join(found)


def test_trust_remote_code_appears_nowhere_in_the_package():
    hits = [f"{p.relative_to(REPO)}:{i}" for p in _sources(PACKAGES, "*") if p.is_file()
            for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1) if "trust_remote_code" in line.lower()]
    assert hits == [], f"trust_remote_code found in: {hits}"


def test_torch_load_calls_exist_and_all_pass_weights_only():
    """The rule is not vacuous: the package does call torch.load, and every call is restricted."""
    calls = [(p, n) for p in _sources(PACKAGES) for n in ast.walk(ast.parse(p.read_text()))
             if isinstance(n, ast.Call) and _dotted(n.func)[-2:] == ("torch", "load")]
    assert calls, "expected baselines.checkpoints to call torch.load"
    assert all(_kw(n, "weights_only") is True for _, n in calls)
