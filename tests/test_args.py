"""Arguments: every misuse is one line naming the argument and what is valid, exit code 2, nothing
written; a real bug keeps its traceback; models with learned weights run on random init only when asked,
and their results say so. Run in-process through ``benchmark.cli.main`` (cheap)."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmark import cli
from benchmark.errors import UsageError

try:
    import torch
    HAS_CUDA = torch.cuda.is_available()
except ImportError:  # pragma: no cover - torch is a dependency of the models extra
    HAS_CUDA = False


def _tree(root: Path) -> dict[str, int]:
    """Every file and folder under ``root`` -> its size (folders -1): what a command may not change."""
    return {p.relative_to(root).as_posix(): (p.stat().st_size if p.is_file() else -1) for p in root.rglob("*")}


@contextmanager
def _in(folder: Path):
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


def _run(capsys, argv: list[str]) -> tuple[int, list[str]]:
    rc = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return rc, [line for line in err.splitlines() if line.strip()]


# (argv, text the one line must contain); --out is always ./out in an empty folder, which must stay empty
MISUSE = [
    (["build", "--limit", "0"], "--limit: must be an integer >= 1, got 0"),
    (["build", "--limit", "-3"], "--limit: must be an integer >= 1"),
    (["build", "--limit", "ten"], "--limit: must be an integer >= 1, got 'ten'"),
    (["build", "--limit", "1.5"], "--limit: must be an integer"),
    (["build", "--shard", "2/2"], "--shard: must be I/N with 0 <= I < N"),
    (["build", "--shard", "0/0"], "--shard: must be I/N"),
    (["build", "--shard=-1/2"], "--shard: must be I/N"),
    (["build", "--shard", "1"], "--shard: must be I/N"),
    (["build", "--shard", "a/b"], "--shard: must be I/N"),
    (["build", "--images-per-shard", "0"], "--images-per-shard: must be an integer from 1 to"),
    (["build", "--images-per-shard", "1e3"], "--images-per-shard: must be an integer"),
    (["build", "--split", "train=0.5,train=0.5"], "partition train given twice"),
    (["build", "--split", "train=0.8,val=0.1"], "fractions sum to 0.9, not 1"),
    (["build", "--split", "train=0.8,val=0.8"], "fractions sum to 1.6, not 1"),
    (["build", "--split", "../x=1"], "'../x' is not a valid name"),
    (["build", "--split", "a/b=1"], "'a/b' is not a valid name"),
    (["build", "--split", "train=0,val=1"], "0 < FRACTION <= 1"),
    (["build", "--split", "train=nan,val=1"], "0 < FRACTION <= 1"),
    (["build", "--split", "train"], "NAME=FRACTION"),
    (["build", "--split", ""], "NAME=FRACTION"),
    (["build", "--image-size", "10x10"], "--image-size: must be WIDTHxHEIGHT with each side from 16 to 8192"),
    (["build", "--image-size", "320"], "--image-size: must be WIDTHxHEIGHT"),
    (["build", "--image-size", "99999x64"], "--image-size: must be WIDTHxHEIGHT"),
    (["build", "--image-size=-32x32"], "--image-size: must be WIDTHxHEIGHT"),
    (["build", "--seed", "-1"], "--seed: must be an integer from 0 to 4294967295, got -1"),
    (["build", "--seed", "4294967296"], "--seed: must be an integer from 0 to 4294967295"),
    (["build", "--seed", "0x10"], "--seed: must be an integer"),
    (["build", "--num-images", "0"], "--num-images: must be an integer >= 1"),
    (["build", "--num-workers", "0"], "--num-workers: must be an integer from 1 to 256"),
    (["build", "--jpeg-quality", "101"], "--jpeg-quality: must be an integer from 1 to 100"),
    (["build", "--source-option", "noequals"], "--source-option: must be KEY=VALUE"),
    (["build", "--source-option", "=3"], "--source-option: must be KEY=VALUE"),
    (["build", "--source-option", "colour=red"], "synthetic: unknown option colour; valid options:"),
    (["build", "--source-option", "max_objects=1", "--source-option", "max_objects=2"], "option 'max_objects' given twice"),
    (["build", "--source-option", "num_images=abc"], "synthetic: option num_images must be of type int (like its default"),
    (["build", "--source", "coco"], "coco: needs root (--root, or --source-option root=...)"),
    (["eval", "--model", "box", "--dataset", "not-a-dataset"], "not-a-dataset has no manifest.json"),
    (["build", "--source", "nope"], "unknown source 'nope'; valid names:"),
    (["build", "--profile", "robustsm"], "unknown profile or corruption 'robustsm'; valid profiles: robustsam, imagecorruptions, clear"),
    (["build", "--profile", "imagecorruption"], "valid profiles: robustsam, imagecorruptions, clear"),
    (["build", "--profile", "robustsam/fog:3"], "has severities (0,), not '3'"),
    (["build", "--profile", "imagecorruptions/fog:x"], "has severities (1, 2, 3, 4, 5), not 'x'"),
    (["build", "--profile", "robustsam/fog,robustsam/fog"], "names 'robustsam/fog' severity 0 twice"),
    (["build", "--profile", "robustsam/fog,,robustsam/rain"], "has an empty item"),
    (["build", "--engine", "spark"], "--engine: invalid choice: 'spark'"),
    (["build", "--ray-address", "127.0.0.1:6379"], "--ray-address applies only with --engine ray"),
    (["build", "--engine", "ray", "--ray-address", "nonsense"], "'nonsense' is not HOST:PORT"),
    (["build", "--bogus"], "unrecognized arguments: --bogus"),
    (["eval", "--model", "box", "--checkpoint", "w.pth"], "model 'box' is weight-free and takes no --checkpoint"),
    (["eval", "--model", "box", "--model-option", "config=tiny"], "model 'box' takes no option config; its options: none"),
    (["eval", "--model", "grabcut", "--model-option", "iters=3"], "takes no option iters; its options: iterations, max_side"),
    (["eval", "--model", "box", "--model-option", "x=1", "--model-option", "x=2"], "option 'x' given twice"),
    (["eval", "--model", "sam_vit_b"], "model 'sam_vit_b' has learned weights: give --checkpoint (sam_vit_b_01ec64.pth), "
                                       "or pass --random-weights"),
    (["eval", "--model", "sam_vit_b", "--random-weights", "--model-option", "config=huge"],
     "unknown SAM config 'huge'; valid: full, vit_b, vit_l, vit_h, tiny"),
    (["eval", "--model", "sam_vit_b", "--random-weights", "--model-option", "config=tiny", "--model-option",
      "dtype=int3"], "unknown dtype 'int3'"),
    (["eval", "--model", "box", "--device", "gpu"], "unknown device 'gpu'; valid: cpu, auto, cuda, cuda:N, mps"),
    (["eval", "--model", "box", "--splits", "clear,clear"], "clear given twice"),
    (["eval", "--model", "box", "--splits", "../x"], "'../x' is not a valid name"),
    (["eval", "--model", "box", "--dataset-name", "a/../../b"], "is not a valid name"),
    (["eval", "--model", "box", "--shard", "3/3"], "--shard: must be I/N"),
    (["eval", "--model", "box", "--encode-batch", "0"], "--encode-batch: must be an integer from 1"),
    (["eval", "--model", "box", "--protocol", "lasso"], "unknown protocol 'lasso'; valid protocols:"),
    (["eval", "--model", "nope"], "unknown model 'nope'; valid names:"),
    (["train", "robustsam"], "training robustsam_vit_b needs --init-checkpoint"),
    (["train", "robustsam", "--lr", "0"], "--lr: must be a finite number > 0"),
    (["train", "robustsam", "--lr", "nan"], "--lr: must be a finite number > 0"),
    (["train", "robustsam", "--steps", "0"], "--steps: must be an integer >= 1"),
    (["train", "robustsam", "--grad-accum", "0"], "--grad-accum: must be an integer from 1"),
    (["train", "robustsam", "--dtype", "int8"], "--dtype: invalid choice"),
    (["train", "nope", "--random-weights"], "no training recipe for model"),
    (["reproduce"], "name a suite, or pass --list"),
    (["reproduce", "nope"], "unknown suite 'nope'; valid suites:"),
    (["reproduce", "--checkpoint", "sam_vit_b"], "--checkpoint expects MODEL=PATH"),
    (["reproduce", "--checkpoint", "a=x", "--checkpoint", "a=y", "--list"], "model 'a' given twice"),
    (["reproduce", "--seed", "-2"], "--seed: must be an integer from 0"),
    (["corruptions", "--contact-sheet", "sheet.txt"], "'sheet.txt': must end in .png, .jpg or .jpeg"),
    (["corruptions", "--contact-sheet", "s.png", "--image", "missing.png"], "missing.png: file not found"),
    (["corruptions", "--profile", "nope"], "valid profiles: robustsam, imagecorruptions, clear"),
    (["run", "--image-size", "4x4"], "--image-size: must be WIDTHxHEIGHT"),
    (["leaderboard", "nothing-here"], "no evaluation results under nothing-here"),
    (["push", "missing", "user/repo"], "missing has no manifest.json"),
    (["check-model", "box", "--device", "tpu"], "unknown device 'tpu'"),
]
if not HAS_CUDA:
    MISUSE += [(["eval", "--model", "box", "--device", "cuda"], "'cuda': CUDA is not available on this machine"),
               (["train", "robustsam", "--device", "cuda:1"], "'cuda:1': CUDA is not available on this machine")]


def _complete(argv: list[str], dataset: Path) -> list[str]:
    """Add the arguments a subcommand requires, so the case fails on the argument under test only."""
    if argv[0] == "build":
        return _build_defaults(argv)
    if argv[0] == "eval":
        return [*argv, *([] if "--dataset" in argv else ["--dataset", str(dataset)]), "--out", "out"]
    if argv[0] == "train":
        return [*argv, "--dataset", str(dataset), "--out", "out", "--config", "tiny"]
    if argv[0] in ("reproduce", "run"):
        return [*argv, "--out", "out"]
    if argv[0] == "leaderboard":
        return [*argv, "--out", "out"]
    return argv


def _build_defaults(argv: list[str]) -> list[str]:
    extra = {"--out": "out", "--num-images": "2", "--image-size": "32x32", "--profile": "clear"}
    out = list(argv)
    for flag, value in extra.items():
        if flag not in argv:
            out += [flag, value]
    return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    from benchmark.data.build import BuildConfig, build

    out = tmp_path_factory.mktemp("args") / "ds"
    build(BuildConfig(source_options={"num_images": 2, "width": 32, "height": 32}, profile="clear",
                      images_per_shard=2, image_format="png"), out)
    return out


@pytest.mark.parametrize("argv,expected", MISUSE, ids=[" ".join(a) for a, _ in MISUSE])
def test_misuse_is_one_line_exit_2_and_writes_nothing(argv, expected, dataset, tmp_path, capsys):
    before = _tree(dataset)
    with _in(tmp_path):
        rc, lines = _run(capsys, _complete(argv, dataset))
    assert rc == 2 and len(lines) == 1, lines
    assert lines[0].startswith("robustseg") and "error:" in lines[0] and expected in lines[0], lines[0]
    assert _tree(tmp_path) == {}, "a refused command wrote files"
    assert _tree(dataset) == before


def _source_option_misuses() -> list[tuple[str, str, str]]:
    """(source, option, bad value) for every registered source's int and str options: a negative count,
    a path that leaves the root."""
    import inspect

    from benchmark.data.sources.base import list_sources

    cases = []
    for info in list_sources():
        params = inspect.signature(info.cls).parameters
        for key, p in params.items():
            if key != "root" and not isinstance(p.default, bool) and isinstance(p.default, (int, str)):
                cases.append((info.name, key, "-1" if isinstance(p.default, int) else "../x"))
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):  # presets: options checked by the preset
            cases += [(info.name, "first", "-1"), (info.name, "split", "../x")]
    return cases


@pytest.mark.parametrize("source,key,value", _source_option_misuses(), ids=lambda v: str(v))
def test_every_source_option_misuse_is_one_line(source, key, value, tmp_path, capsys):
    """Generated over the source registry: a bad option value is one line and exit 2 (or, where the value
    is valid, the usual one-line refusal of the empty root), never a traceback and nothing outside --out."""
    (tmp_path / "root").mkdir()
    with _in(tmp_path):
        rc, lines = _run(capsys, ["build", "--source", source, "--root", "root", "--source-option", f"{key}={value}",
                                  "--out", "out"])
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("robustseg: error: "), lines
    assert sorted(p.name for p in tmp_path.iterdir()) in (["root"], ["out", "root"]), "wrote outside --out"


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b'{"files": {}}'], ids=["empty", "cut", "list", "no build"])
def test_unreadable_dataset_manifest_is_one_line(tmp_path, capsys, content):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "manifest.json").write_bytes(content)
    with _in(tmp_path):
        rc, lines = _run(capsys, ["eval", "--dataset", "ds", "--model", "box", "--out", "out"])
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("robustseg: error: ds/manifest.json: not a robustseg "
                                                              "manifest (")
    assert not (tmp_path / "out").exists()


def test_a_real_bug_keeps_its_traceback(monkeypatch):
    """Only user errors become one line; a KeyError from our own code is a bug and must show."""

    def broken(a):
        return {}["missing"]

    monkeypatch.setattr(cli, "cmd_protocols", broken)
    with pytest.raises(KeyError):
        cli.main(["protocols"])


def test_library_build_refuses_repeated_partitions(tmp_path):
    """The repeated --split name that silently lost half the rows: refused by the library too."""
    from benchmark.data.build import BuildConfig, build

    cfg = BuildConfig(source_options={"num_images": 4, "width": 32, "height": 32}, profile="clear",
                      partitions=(("train", 0.5), ("train", 0.5)))
    with pytest.raises(UsageError, match="partition train given twice"):
        build(cfg, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


# --- random weights --------------------------------------------------------------------------------------

def test_random_weights_only_when_asked_then_labelled(dataset, tmp_path, capsys):
    """eval refuses a SAM-family model without a checkpoint; with --random-weights the results record it,
    leaderboard refuses them, and with --allow-random-weights labels them."""
    base = ["eval", "--dataset", dataset, "--model", "sam_vit_b", "--model-option", "config=tiny", "--protocol", "box",
            "--out", tmp_path / "results"]
    rc, lines = _run(capsys, base)
    assert rc == 2 and "--random-weights" in lines[-1] and not (tmp_path / "results").exists()
    rc, _ = _run(capsys, [*base, "--random-weights"])
    assert rc == 0
    from benchmark.jobs import read_state

    (target,) = [p.parent.parent for p in (tmp_path / "results").rglob(".robustseg/eval.json")]
    assert read_state(target / ".robustseg" / "eval.json")["random_weights"] is True
    assert read_state(target / "manifest.json")["evaluation"]["random_weights"] is True
    rc, lines = _run(capsys, ["leaderboard", tmp_path / "results", "--out", tmp_path / "lb", "--no-plots",
                              "--no-reported"])
    assert rc == 2 and "made with random weights" in lines[-1] and "--allow-random-weights" in lines[-1]
    assert not (tmp_path / "lb").exists()
    rc, _ = _run(capsys, ["leaderboard", tmp_path / "results", "--out", tmp_path / "lb", "--no-plots", "--no-reported",
                          "--allow-random-weights"])
    assert rc == 0
    text = "".join(p.read_text() for p in (tmp_path / "lb").glob("*.csv"))
    assert "sam_vit_b[config=tiny] (random weights)" in text


def test_library_evaluate_and_reproduce_refuse_random_init(dataset, tmp_path):
    from baselines import ModelArgumentError, create_model

    from benchmark.eval.evaluate import evaluate
    from benchmark.report.reproduce import reproduce

    model = create_model("sam_vit_b", config="tiny")
    assert model.random_weights
    with pytest.raises(ModelArgumentError, match="random weights"):
        evaluate(model, dataset, "box", tmp_path / "r")
    with pytest.raises(ModelArgumentError, match="--random-weights"):
        evaluate("sam_vit_b", dataset, "box", tmp_path / "r")
    with pytest.raises(ModelArgumentError, match="no checkpoint for sam_vit_b"):
        reproduce("robustsam_seen_lvis_box", None, {"sam_vit_b": None}, tmp_path / "rep")
    assert not (tmp_path / "r").exists() and not (tmp_path / "rep").exists()
    assert not create_model("box").random_weights


# --- the property: random argument lists ----------------------------------------------------------------

VALUES = ["0", "1", "2", "-1", "1.5", "nan", "abc", "", "0/1", "1/2", "2/1", "16x16", "8x8", "x", "../x", "a/b",
          "train=1", "a=0.5,a=0.5", "a=0.5,b=0.4", "clear", "robustsm", "robustsam/gauss_noise", "robustsam/fog:3",
          "box", "nope", "sam_vit_b", "cpu", "cuda", "k=v", "config=tiny", "=", "out", "é", "-", "--"]
FLAGS = {
    "build": ["--limit", "--shard", "--images-per-shard", "--split", "--image-size", "--seed", "--num-images",
              "--source-option", "--profile", "--source", "--jpeg-quality", "--image-format", "--num-workers",
              "--root", "--skip-bad"],
    "eval": ["--model", "--protocol", "--checkpoint", "--model-option", "--device", "--splits", "--shard",
             "--dataset-name", "--encode-batch", "--merge", "--skip-errors"],
    "leaderboard": ["--no-plots", "--no-reported", "--allow-incomplete", "--allow-random-weights"],
    "train": ["--steps", "--batch-size", "--lr", "--seed", "--device", "--dtype", "--splits", "--dataset-config",
              "--init-checkpoint", "--train-size", "--grad-accum"],
    "reproduce": ["--list", "--checkpoint", "--model", "--dataset", "--limit", "--seed", "--device", "--data-root"],
    "corruptions": ["--family", "--profile", "--seed", "--contact-sheet", "--image"],
    "push": ["--private", "--revision"],
    "check-model": ["--checkpoint", "--device"],
    "run": ["--image-size", "--seed", "--profile", "--num-images"],
    "models": ["-v"], "protocols": [], "sources": [],
}
# the fixed prefix keeps every example cheap: tiny builds, a tiny dataset, no real training or download
PREFIX = {
    "build": ["--out", "out", "--num-images", "1", "--image-size", "16x16", "--profile", "clear"],
    "eval": ["--out", "out", "--model", "box", "--protocol", "box"],
    "train": ["robustsam", "--out", "out", "--config", "tiny", "--steps", "1", "--batch-size", "1"],
    "leaderboard": ["results", "--out", "out"],
    "reproduce": ["--out", "out"],
    "corruptions": ["--profile", "robustsam/fog"],
    "push": ["dataset", "user/repo"],
    "check-model": ["nope"],
    "run": ["--out", "out", "--num-images", "1", "--image-size", "16x16", "--profile", "clear"],
}
CHEAP = {"--num-images": ["0", "1", "2", "-1", "abc"], "--image-size": ["16x16", "8x8", "x", "16x99999"],
         "--profile": ["clear", "robustsm", "robustsam/fog:3", "robustsam/gauss_noise", ""],
         "--model": ["box", "nope", "sam_vit_b"], "--steps": ["0", "1", "abc"], "--batch-size": ["0", "1", "x"],
         "--train-size": ["0", "64", "x"], "--limit": ["0", "1", "-1", "x"], "--encode-batch": ["0", "1", "x"],
         "--num-workers": ["0", "1", "x"], "--init-checkpoint": ["missing.pth", "garbage.pth"],
         "--checkpoint": ["missing.pth", "garbage.pth", "sam_vit_b=missing.pth", "x"],
         "--data-root": ["missing", "inputs"], "--root": ["missing", "inputs"],
         "--protocol": ["box", "point", "lasso"], "--splits": ["clear", "nope", "clear,clear", "../x"],
         "--shard": ["0/1", "1/2", "2/2", "x"], "--seed": ["0", "3", "-1", "x", "4294967296"],
         "--device": ["cpu", "cuda", "gpu", "auto"], "--split": ["a=0.5,b=0.5", "a=0.5,a=0.5", "a=1", "a=0.3"],
         "--images-per-shard": ["0", "1", "2", "x"], "--dataset-name": ["d", "../d", ""],
         "--source-option": ["max_objects=1", "colour=red", "seed=x", "noequals"],
         "--model-option": ["iterations=1", "config=tiny", "x=1"], "--family": ["robustsam", "nope"],
         "--contact-sheet": ["out/sheet.png", "sheet.txt"], "--image": ["missing.png", "inputs/x.txt"]}
BOOLEAN = {"--skip-bad", "--merge", "--skip-errors", "--no-plots", "--no-reported", "--allow-incomplete",
           "--allow-random-weights", "--list", "--private", "-v"}


@st.composite
def argument_lists(draw):
    cmd = draw(st.sampled_from(sorted(FLAGS)))
    argv = [cmd, *PREFIX.get(cmd, [])]
    for _ in range(draw(st.integers(0, 4))):
        if FLAGS[cmd] and draw(st.integers(0, 5)):  # mostly flags; now and then a stray value
            flag = draw(st.sampled_from(FLAGS[cmd]))
            argv.append(flag)
            if flag not in BOOLEAN:
                argv.append(draw(st.sampled_from(CHEAP.get(flag, VALUES))))
        else:
            argv.append(draw(st.sampled_from(VALUES)))
    return argv


@settings(max_examples=150, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=argument_lists())
def test_property_random_argument_lists(argv, dataset, capsys):
    """Any argument list: exit 0, 1 (check-model's failed check) or 2 with one error line, never a
    traceback, and nothing written outside ``out`` (the command's output) in the working folder or in
    the inputs it read."""
    before = _tree(dataset)
    with tempfile.TemporaryDirectory() as tmp, _in(Path(tmp)):
        inputs = Path(tmp) / "inputs"
        inputs.mkdir()
        (inputs / "x.txt").write_text("not a dataset")
        Path(tmp, "garbage.pth").write_bytes(b"\x80\x04garbage")
        if argv[0] == "eval":
            argv = [*argv, "--dataset", str(dataset)]
        if argv[0] == "train":
            argv = [*argv, "--dataset", str(dataset)]
        fixed = _tree(Path(tmp))
        rc, lines = _run(capsys, argv)
        assert rc in ((0, 1, 2) if argv[0] == "check-model" else (0, 2)), (argv, rc, lines)
        if rc == 2:
            assert lines and lines[-1].startswith("robustseg") and "error:" in lines[-1], (argv, lines)
        after = {k: v for k, v in _tree(Path(tmp)).items() if not (k == "out" or k.startswith("out/"))}
        assert after == fixed, (argv, set(after) ^ set(fixed))
    assert _tree(dataset) == before
