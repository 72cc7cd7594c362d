"""``robustseg train ecocseg`` resumes bit-exactly: a run stopped at a point chosen by state (after step k,
or at its n-th checkpoint) and rerun ends with the same weights and log as an uninterrupted run; an empty
checkpoint pointer counts as absent (the run starts over, to the same end); another run's folder is refused."""
import csv
import signal

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from safetensors.torch import load_file  # noqa: E402

from benchmark import cli  # noqa: E402
from benchmark.train.ecocseg_run import EcocSegRecipe, train_ecocseg  # noqa: E402
from benchmark.train.loop import TrainConflictError  # noqa: E402
from benchmark.train.state import LATEST, latest_step  # noqa: E402

from .killpoints import run_until  # noqa: E402

TINY = dict(config="tiny", steps=4, batch_size=1, crop=32, codebook_trials=64, rcs_min_pixels=50)  # 40x48 labels


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """Two small GTA5-format semantic builds (source, target) from random images and labels."""
    root = tmp_path_factory.mktemp("ecocseg")
    rng = np.random.default_rng(3)
    out = []
    for name in ("src", "tgt"):
        for d in ("images", "labels"):
            (root / name / d).mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(root / f"{name}/images/0000{i}.png"), rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
            cv2.imwrite(str(root / f"{name}/labels/0000{i}.png"), rng.integers(0, 34, (40, 48)).astype(np.uint8))
        assert cli.main(["build", "--source", "gta5", "--root", str(root / name), "--profile", "clear",
                         "--out", str(root / f"ds-{name}")]) == 0
        out.append(root / f"ds-{name}")
    return out


def _same_run(a, b) -> None:
    wa, wb = load_file(str(a / "weights.safetensors")), load_file(str(b / "weights.safetensors"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    logs = [list(csv.DictReader(open(d / "log.csv"))) for d in (a, b)]
    assert [r["step"] for r in logs[1]] == ["1", "2", "3", "4"] and logs[0] == logs[1]


class Killed(Exception):
    pass


@pytest.mark.parametrize("head", ["ecoc", "softmax"])
@pytest.mark.parametrize("stop, resumes_at", [(Killed, 2), (KeyboardInterrupt, 3)], ids=["kill", "ctrl-c"])
def test_resume_after_an_interrupt_equals_the_uninterrupted_run(builds, tmp_path, head, stop, resumes_at):
    src, tgt = builds
    recipe = EcocSegRecipe(head=head, **TINY)
    train_ecocseg(src, tgt, tmp_path / "full", recipe, save_every=2)

    def stop_after_3(step, loss):
        if step == 3:
            raise stop  # step 3 ran and was logged; a kill loses it, Ctrl-C checkpoints it

    with pytest.raises(stop):
        train_ecocseg(src, tgt, tmp_path / "resumed", recipe, progress=stop_after_3, save_every=2)
    assert latest_step(tmp_path / "resumed/checkpoints") == resumes_at
    train_ecocseg(src, tgt, tmp_path / "resumed", recipe, save_every=2)
    _same_run(tmp_path / "full", tmp_path / "resumed")


def test_cli_interrupted_at_a_checkpoint_resumes_to_the_same_weights(builds, tmp_path):
    src, tgt = builds
    argv = ["train", "ecocseg", "--dataset", src, "--target-dataset", tgt, "--config", "tiny", "--steps", "4",
            "--batch-size", "1", "--train-size", "32", "--save-every", "1", "--device", "cpu",
            "--recipe-option", "rcs_min_pixels=50"]
    assert cli.main([str(a) for a in argv + ["--out", tmp_path / "full"]]) == 0
    r = run_until("SIGTERM", "checkpoint", 2, argv + ["--out", tmp_path / "run"])
    assert r.returncode == 128 + signal.SIGTERM, r.stderr
    assert "Traceback" not in r.stderr and "rerun the same command to resume" in r.stderr.strip().splitlines()[-1]
    assert latest_step(tmp_path / "run/checkpoints") == 2 and not (tmp_path / "run/weights.safetensors").exists()
    (tmp_path / "run/checkpoints" / LATEST).write_bytes(b"")  # an empty pointer: no checkpoint, start over
    assert cli.main([str(a) for a in argv + ["--out", tmp_path / "run"]]) == 0
    _same_run(tmp_path / "full", tmp_path / "run")
    cli_recipe = EcocSegRecipe(config="tiny", steps=4, batch_size=1, crop=32, rcs_min_pixels=50)
    with pytest.raises(TrainConflictError, match="differs in: recipe"):
        train_ecocseg(src, tgt, tmp_path / "run", EcocSegRecipe(config="tiny", steps=5, batch_size=1, crop=32,
                                                                rcs_min_pixels=50))
    with pytest.raises(TrainConflictError, match="already holds checkpoints"):
        train_ecocseg(src, tgt, tmp_path / "run", cli_recipe, resume=False)


def test_the_codebook_file_is_part_of_the_run_identity(builds, tmp_path):
    """The run records the sha256 of the codebook bytes it trained with; the same path with other codes
    is another run, refused by name rather than resumed with codes its checkpoints never saw."""
    import hashlib
    import json

    from baselines.ecoc.codebook import random_codebook

    src, tgt = builds
    book = tmp_path / "codes.json"
    book.write_text(json.dumps(random_codebook(19, 8, trials=64, seed=1).astype(int).tolist()))
    recipe = EcocSegRecipe(head="ecoc", bits=8, codebook=str(book), **(TINY | {"steps": 1}))
    train_ecocseg(src, tgt, tmp_path / "run", recipe)
    identity = json.loads((tmp_path / "run/train.json").read_text())["identity"]
    assert identity["codebook_sha256"] == hashlib.sha256(book.read_bytes()).hexdigest()
    book.write_text(json.dumps(random_codebook(19, 8, trials=64, seed=2).astype(int).tolist()))
    with pytest.raises(TrainConflictError, match="differs in: codebook_sha256"):
        train_ecocseg(src, tgt, tmp_path / "run", recipe)


@pytest.mark.parametrize("tamper", ["changed byte", "fifo"])
def test_semantic_shards_are_verified_on_read(builds, tmp_path, tamper, capsys):
    """Semantic eval and ECOCSeg training read a build's shards as the instance track does: inside the
    folder, a regular file (a FIFO is refused, never opened), the manifest's sha256 of the very bytes
    parsed, its schema and row count; a changed shard is one line naming it, not a number from other data."""
    import os
    import shutil

    src, tgt = builds
    ds = tmp_path / "ds"
    shutil.copytree(src, ds)
    shard = sorted(ds.rglob("*.parquet"))[0]
    if tamper == "fifo":
        shard.unlink()
        os.mkfifo(shard)
    else:
        data = bytearray(shard.read_bytes())
        data[len(data) // 2] ^= 1
        shard.write_bytes(bytes(data))
    want = "not a regular file" if tamper == "fifo" else "sha256 differs from"
    capsys.readouterr()
    for argv in (["eval", "--dataset", ds, "--model", "segformer-b0", "--model-option", "config=tiny", "--random-weights",
                  "--out", tmp_path / "results"],
                 ["train", "ecocseg", "--dataset", ds, "--target-dataset", tgt, "--config", "tiny", "--steps", "1",
                  "--batch-size", "1", "--train-size", "32", "--device", "cpu", "--out", tmp_path / "run"]):
        assert cli.main([str(a) for a in argv]) == 2, argv[:2]
        err = capsys.readouterr().err
        last = err.strip().splitlines()[-1]
        assert "Traceback" not in err and str(shard) in last and want in last, err
