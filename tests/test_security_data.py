"""Untrusted data (issue 16, docs/security.md): a dataset folder, results folder or annotation file
from anyone cannot make robustseg write outside its --out, read outside the folder it was given,
hang on a special file, crash native code, or silently change a number. One test per rule of
docs/security.md; each crafted input is checked to be refused with an error naming the file."""
import hashlib
import json
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings, strategies as st

from benchmark.data.build import BuildConfig, build
from benchmark.data.sources.errors import BadSampleError
from benchmark.errors import IntegrityError, UnsafePathError, UserError
from benchmark.eval.evaluate import evaluate
from benchmark.paths import NAME_PATTERN, check_name, inside
from benchmark.report.results import read_results

from .conftest import run_cli
from .test_bad_inputs import H, W, ann, coco, coco_root, rgb, save


def _tree(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*")}


@pytest.fixture
def ds(tiny_dataset, tmp_path):
    """A private copy of the tiny build, to craft."""
    dest = tmp_path / "ds"
    shutil.copytree(tiny_dataset, dest)
    return dest


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def _save_manifest(folder: Path, m: dict) -> None:
    (folder / "manifest.json").write_text(json.dumps(m))


def _relist(folder: Path, rel: str, table: pa.Table) -> None:
    """Write ``table`` as ``rel`` and list it in the manifest with a matching sha256 and row count,
    as an attacker who controls the whole folder would."""
    pq.write_table(table, folder / rel)
    m = _manifest(folder)
    m["files"][rel] |= {"sha256": hashlib.sha256((folder / rel).read_bytes()).hexdigest(), "rows": table.num_rows}
    _save_manifest(folder, m)


# --- rule P1: paths from a manifest stay inside the dataset folder and --out ------------------------

ESCAPES = ["../../escaped.parquet", "data/default/../../../escaped.parquet", "/tmp/escaped.parquet",
           "data/default/.hidden.parquet", "data//x.parquet", "data/default/x.parquet/..", "data\\..\\x.parquet",
           "data/default/a b.parquet", "data/default/x\n.parquet"]


@pytest.mark.parametrize("bad", ESCAPES)
def test_eval_refuses_manifest_paths_that_leave_the_folder(ds, tmp_path, bad):
    """The issue's worst case: a crafted manifest entry made eval write outside every folder."""
    m = _manifest(ds)
    rel, meta = next(iter(m["files"].items()))
    m["files"][bad] = meta
    _save_manifest(ds, m)
    before = _tree(tmp_path)
    with pytest.raises(UnsafePathError, match="manifest.json"):
        evaluate("box", ds, "box", tmp_path / "out")
    assert not (_tree(tmp_path) - before - _tree(tmp_path / "out")), "something was written outside --out"
    assert not (tmp_path.parent / "escaped.parquet").exists()


def test_eval_cli_gives_one_line_for_a_crafted_manifest(ds, tmp_path):
    m = _manifest(ds)
    m["files"]["../../escaped.parquet"] = next(iter(m["files"].values()))
    _save_manifest(ds, m)
    r = run_cli("eval", "--dataset", ds, "--model", "box", "--protocol", "box", "--out", tmp_path / "out")
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "manifest.json" in r.stderr and "escaped.parquet" in r.stderr and "not a valid name" in r.stderr


def test_eval_refuses_a_listed_shard_that_is_a_symlink_leaving_the_folder(ds, tmp_path):
    shard = sorted((ds / "data" / "default").glob("*.parquet"))[0]
    outside = tmp_path / "elsewhere.parquet"
    shutil.move(shard, outside)
    shard.symlink_to(outside)
    with pytest.raises(UnsafePathError, match="outside"):
        evaluate("box", ds, "box", tmp_path / "out")


def test_eval_never_writes_through_a_symlink_planted_in_its_output(ds, tmp_path):
    """A results folder handed over with a symlinked config folder: the write would land outside."""
    out = tmp_path / "out"
    victim = tmp_path / "victim"
    victim.mkdir()
    (out / "ds" / "box" / "box").mkdir(parents=True)
    (out / "ds" / "box" / "box" / "default").symlink_to(victim)
    with pytest.raises(UnsafePathError, match="outside"):
        evaluate("box", ds, "box", out)
    assert list(victim.iterdir()) == []


@pytest.mark.parametrize("name", ["../up", "a/b", "..", ".", ".hidden", "x" * 129, "a b", "name\n", "-rf"])
def test_dataset_and_model_names_are_one_valid_component(ds, tmp_path, name):
    with pytest.raises(UnsafePathError, match="not a valid name"):
        evaluate("box", ds, "box", tmp_path / "out", dataset_name=name)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.parquet"))


@pytest.mark.parametrize("parts", [(("train", 0.5), ("../x", 0.5)), (("a/b", 1.0),), (("", 1.0),),
                                   (("train", 0.5), ("train", 0.5))])
def test_build_partition_names_are_validated_and_unique(tmp_path, parts):
    with pytest.raises(UserError, match="name|twice"):  # a bad name: UnsafePathError; a repeat: UsageError
        build(BuildConfig(source_options={"num_images": 2, "width": 32, "height": 24}, profile="clear",
                          partitions=parts), tmp_path / "out")
    assert not (tmp_path / "x").exists()


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=40))
def test_property_a_valid_name_is_one_component_inside_its_root(name):
    """Every accepted name is a single path component that stays in the folder; every refused one
    raises UnsafePathError (never another exception)."""
    root = Path("/srv/root")
    try:
        check_name(name, "name")
    except UnsafePathError:
        assert not NAME_PATTERN.fullmatch(name)
        return
    assert Path(name).name == name and name not in (".", "..") and "/" not in name and "\0" not in name
    assert inside(root, f"data/{name}", "test").parent == root / "data"


# --- rule P2: symlinks leaving the source root and special files are refused or recorded ------------

def _special(kind: str, path: Path, outside: Path) -> None:
    if kind == "symlink-out":
        save(outside, rgb(), quality=95)
        path.symlink_to(outside)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "dir":
        path.mkdir()


SPECIAL = ["symlink-out", "fifo", "socket", "dev-zero", "dir"]


@pytest.mark.parametrize("kind", SPECIAL)
def test_special_files_and_escaping_symlinks_are_never_read(tmp_path, kind):
    """A FIFO would hang the build and /dev/zero would read without end: refused before opening."""
    root = coco_root(tmp_path)
    (root / "images/a.jpg").unlink()
    _special(kind, root / "images/a.jpg", tmp_path / "outside.jpg")
    with pytest.raises(BadSampleError, match=r"a\.jpg: .*(outside the dataset folder|not a regular file)"):
        coco(root)[0]


@pytest.mark.parametrize("kind", ["symlink-out", "fifo"])
def test_skip_bad_records_special_files_in_the_manifest(tmp_path, kind):
    root = tmp_path / "f"
    for name in ("a", "b"):
        save(root / f"images/{name}.jpg", rgb(), quality=95)
        save(root / f"masks/{name}.png", np.full((H, W), 255, np.uint8))
    (root / "images/b.jpg").unlink()
    _special(kind, root / "images/b.jpg", tmp_path / "outside.jpg")
    cfg = BuildConfig(source="image_mask_folders", source_options={"root": str(root)}, profile="clear")
    with pytest.raises(BadSampleError, match="b.jpg"):
        build(cfg, tmp_path / "no-skip")
    r = build(cfg, tmp_path / "out", skip_bad=True)
    assert r.complete and len(r.manifest["skipped"]) == 1 and "b.jpg" in r.manifest["skipped"][0]["error"]
    assert sum(s["rows"] for s in r.manifest["splits"]["default"].values()) == 1


def test_symlink_inside_the_root_is_followed(tmp_path):
    root = coco_root(tmp_path)
    (root / "images/a.jpg").rename(root / "images/real.jpg")
    (root / "images/a.jpg").symlink_to(root / "images/real.jpg")
    assert coco(root)[0].image.shape == (H, W, 3)


# --- rule V: shards and results are verified on read (sha256, schema, rows, every field) -----------

def _first_shard(folder: Path) -> tuple[str, pa.Table]:
    rel = sorted(_manifest(folder)["files"])[0]
    return rel, pq.read_table(folder / rel)


def _set_objects(table: pa.Table, fn) -> pa.Table:
    rows = table.to_pylist()
    for r in rows:
        fn(r)
    return pa.Table.from_pylist(rows, schema=table.schema)


CRAFTED_SHARDS = {
    "extra column": lambda t: t.append_column("evil", pa.array([1] * t.num_rows)),
    "dropped column": lambda t: t.drop_columns(["seed"]),
    "retyped column": lambda t: t.set_column(t.schema.get_field_index("severity"), "severity",
                                             pa.array([str(x) for x in t.column("severity").to_pylist()])),
    "null image id": lambda t: _set_objects(t, lambda r: r.update(image_id=None)),
    "negative width": lambda t: _set_objects(t, lambda r: r.update(width=-5)),
    "null iscrowd": lambda t: _set_objects(t, lambda r: [o.update(iscrowd=None) for o in r["objects"]]),
    "mask size differs": lambda t: _set_objects(t, lambda r: [o["mask"].update(size=[3, 3]) for o in r["objects"]]),
    "short RLE": lambda t: _set_objects(t, lambda r: [o["mask"].update(counts="11") for o in r["objects"]]),
    "bad RLE chars": lambda t: _set_objects(t, lambda r: [o["mask"].update(counts="\x01\x02~~") for o in r["objects"]]),
    "image not the row's size": lambda t: _set_objects(t, lambda r: r.update(width=r["width"] + 1) or
                                                       [o["mask"].update(size=[r["height"], r["width"]]) for o in r["objects"]]),
    "undecodable image": lambda t: _set_objects(t, lambda r: r["image"].update(bytes=b"not an image")),
}


@pytest.mark.parametrize("damage", sorted(CRAFTED_SHARDS))
def test_eval_checks_every_stored_field_of_a_consistently_listed_shard(ds, tmp_path, damage):
    """The attacker also rewrote the manifest (sha256 and rows match): the schema and every field
    are still checked before the model or pycocotools sees them."""
    rel, table = _first_shard(ds)
    _relist(ds, rel, CRAFTED_SHARDS[damage](table))
    with pytest.raises(IntegrityError, match=Path(rel).name):
        evaluate("box", ds, "box", tmp_path / "out")


@pytest.mark.parametrize("damage", ["rows", "sha", "not json", "files not a dict", "sha not hex", "rows bool",
                                    "missing file", "not parquet"])
def test_manifest_itself_is_checked(ds, tmp_path, damage):
    m = _manifest(ds)
    rel = sorted(m["files"])[0]
    if damage == "rows":
        m["files"][rel]["rows"] += 1
    elif damage == "sha":
        m["files"][rel]["sha256"] = "0" * 64
    elif damage == "files not a dict":
        m["files"] = list(m["files"])
    elif damage == "sha not hex":
        m["files"][rel]["sha256"] = "../../x"
    elif damage == "rows bool":
        m["files"][rel]["rows"] = True
    elif damage == "missing file":
        (ds / rel).unlink()
    elif damage == "not parquet":
        (ds / rel).write_bytes(b"garbage")
        m["files"][rel]["sha256"] = hashlib.sha256(b"garbage").hexdigest()
    _save_manifest(ds, m)
    if damage == "not json":
        (ds / "manifest.json").write_text("{not json")
    with pytest.raises(UserError, match="manifest.json|parquet"):
        evaluate("box", ds, "box", tmp_path / "out")


@pytest.fixture
def results(tiny_dataset, tmp_path):
    out = tmp_path / "results"
    evaluate("box", tiny_dataset, "box", out, dataset_name="tiny")
    return out


def _result_file(results: Path) -> tuple[Path, str]:
    man = next(results.rglob("manifest.json"))
    return man.parent, sorted(json.loads(man.read_text())["files"])[0]


CRAFTED_RESULTS = {
    "NaN iou": lambda t: t.set_column(t.schema.get_field_index("iou"), "iou",
                                      pa.array([float("nan")] + t.column("iou").to_pylist()[1:], pa.float64())),
    "missing iou": lambda t: t.set_column(t.schema.get_field_index("iou"), "iou",
                                          pa.array([None] + t.column("iou").to_pylist()[1:], pa.float64())),
    "iou above 1": lambda t: t.set_column(t.schema.get_field_index("iou"), "iou",
                                          pa.array([1.5] + t.column("iou").to_pylist()[1:], pa.float64())),
    "infinite score": lambda t: t.set_column(t.schema.get_field_index("score"), "score",
                                             pa.array([float("inf")] + t.column("score").to_pylist()[1:], pa.float32())),
    "NaN uncertainty": lambda t: t.set_column(t.schema.get_field_index("aurc"), "aurc",
                                              pa.array([float("nan")] * t.num_rows, pa.float64())),
    "missing model": lambda t: t.set_column(0, "model", pa.array([None] * t.num_rows, pa.string())),
    "corrupt gt_rle": lambda t: t.set_column(t.schema.get_field_index("gt_rle"), "gt_rle",
                                             pa.array(["0"] * t.num_rows, pa.string())),
    "extra column": lambda t: t.append_column("evil", pa.array([1] * t.num_rows)),
}


@pytest.mark.parametrize("damage", sorted(CRAFTED_RESULTS))
def test_results_with_nan_missing_or_invalid_metrics_name_the_file(results, damage):
    """Never a silently shorter mean: one bad value is an error naming the result file."""
    folder, rel = _result_file(results)
    table = pq.read_table(folder / rel)
    pq.write_table(CRAFTED_RESULTS[damage](table), folder / rel)
    with pytest.raises(IntegrityError, match="sha256"):  # first line of defence: the manifest
        read_results(results)
    m = json.loads((folder / "manifest.json").read_text())
    m["files"][rel]["sha256"] = hashlib.sha256((folder / rel).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IntegrityError, match=Path(rel).name):
        read_results(results)


@pytest.mark.parametrize("damage", ["rows", "escape", "symlink-out", "deleted"])
def test_results_manifest_is_checked(results, tmp_path, damage):
    folder, rel = _result_file(results)
    m = json.loads((folder / "manifest.json").read_text())
    if damage == "rows":
        m["files"][rel]["rows"] -= 1
    elif damage == "escape":
        m["files"]["../../../../etc/passwd"] = m["files"][rel]
    elif damage == "symlink-out":
        shutil.move(folder / rel, tmp_path / "moved.parquet")
        (folder / rel).symlink_to(tmp_path / "moved.parquet")
    else:
        (folder / rel).unlink()
    (folder / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(UserError):
        read_results(results)


def test_leaderboard_cli_gives_one_line_for_a_nan_metric(results, tmp_path):
    folder, rel = _result_file(results)
    table = CRAFTED_RESULTS["NaN iou"](pq.read_table(folder / rel))
    pq.write_table(table, folder / rel)
    m = json.loads((folder / "manifest.json").read_text())
    m["files"][rel]["sha256"] = hashlib.sha256((folder / rel).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(m))
    r = run_cli("leaderboard", results, "--out", tmp_path / "lb", "--no-plots")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and Path(rel).name in r.stderr and "NaN" in r.stderr
    assert not (tmp_path / "lb").exists() or not any((tmp_path / "lb").iterdir())


# --- rule A: annotation json types, ids and coordinates --------------------------------------------

POLY = [[2.0, 2.0, 10.0, 2.0, 10.0, 9.0]]
STRICT = {
    "iscrowd string": ([ann(POLY, iscrowd="0")], "iscrowd"),
    "iscrowd bool": ([ann(POLY, iscrowd=True)], "iscrowd"),
    "iscrowd float": ([ann(POLY, iscrowd=0.0)], "iscrowd"),
    "iscrowd 2": ([ann(POLY, iscrowd=2)], "iscrowd"),
    "bool category": ([ann(POLY, category_id=True)], "unknown category True"),
    "bool image id": ([ann(POLY, image_id=True)], "names image True"),
    "float annotation id": ([ann(POLY, id=5.0)], "'id' must be an integer"),
    "float image id ref": ([ann(POLY, image_id=1.0)], "names image 1.0"),
    "duplicate annotation id": ([ann(POLY), ann(POLY)], "annotation id 5 is duplicated"),
}


@pytest.mark.parametrize("case", sorted(STRICT))
def test_annotation_types_are_strict(tmp_path, case):
    anns, message = STRICT[case]
    with pytest.raises(ValueError, match=f"ann.json.*{message}"):
        coco(coco_root(tmp_path, anns=anns))


@pytest.mark.parametrize("cats,message", [([{"id": True, "name": "x"}], "category id True"),
                                          ([{"id": 1.0, "name": "x"}], "category id 1.0"),
                                          ([{"id": 1, "name": 7}], "'name' must be a string"),
                                          ([{"id": 1, "name": "a"}, {"id": 1, "name": "b"}], "duplicated")])
def test_category_records_are_strict(tmp_path, cats, message):
    with pytest.raises(ValueError, match=f"ann.json.*{message}"):
        coco(coco_root(tmp_path, cats=cats))


def test_duplicate_image_ids_name_the_file(tmp_path):
    images = [{"id": 1, "file_name": "a.jpg", "height": H, "width": W}] * 2
    with pytest.raises(ValueError, match="ann.json: image id 1 is duplicated"):
        coco(coco_root(tmp_path, images=images))


@pytest.mark.parametrize("coord", [1e15, -1e15, 1e300, 3 * W, -W - 1])
def test_huge_finite_polygon_coordinate_is_an_error_not_a_crash(tmp_path, coord):
    """pycocotools' rasteriser crashed the process (SIGSEGV) on a coordinate of 1e15."""
    root = coco_root(tmp_path, anns=[ann([[2.0, 2.0, coord, 2.0, 10.0, 9.0]])])
    with pytest.raises(BadSampleError, match=r"ann.json \(annotation 5\).*outside"):
        coco(root)[0]


def test_coordinates_just_past_the_border_keep_pycocotools_masks(tmp_path):
    """Real annotations overshoot by a pixel or so; they decode exactly as pycocotools does."""
    from pycocotools import mask as mask_utils

    poly = [-1.5, -0.5, W + 0.7, 0.0, W + 1.0, H + 2.0]
    sample = coco(coco_root(tmp_path, anns=[ann([poly])]))[0]
    want = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([poly], H, W))).astype(bool)
    assert np.array_equal(sample.objects[0].mask, want)


# --- rule A4: a COCO json is parsed once per content, then mapped (memory: benchmarks/RESULTS.md) ---

def test_coco_json_is_parsed_once_per_content_and_reparsed_when_it_changes(tmp_path, monkeypatch):
    import benchmark.data.sources.coco_index as coco_index

    root = coco_root(tmp_path, anns=[ann(POLY, id=77)])
    first = coco(root)[0]
    with monkeypatch.context() as m:  # what every build worker does: map the index, never parse
        m.setattr(coco_index, "_parse", lambda *a: pytest.fail("the json was parsed a second time"))
        again = coco(root)[0]
    assert np.array_equal(first.objects[0].mask, again.objects[0].mask) and again.objects[0].id == 77
    data = json.loads((root / "ann.json").read_text())
    data["annotations"][0]["iscrowd"] = 1
    (root / "ann.json").write_text(json.dumps(data))
    assert coco(root)[0].objects[0].iscrowd and not first.objects[0].iscrowd


def test_coco_index_keeps_the_json_values_exactly(tmp_path):
    """Segmentations come back from the index as the json's own values: an integer polygon, an
    uncompressed RLE and a NaN coordinate (still refused at decode) behave as before."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.frPyObjects({"size": [H, W], "counts": [5, 10, H * W - 15]}, H, W)
    anns = [ann([[1, 1, 8, 1, 8, 8]], id=1), ann({"size": [H, W], "counts": [5, 10, H * W - 15]}, id=2)]
    sample = coco(coco_root(tmp_path, anns=anns))[0]
    want = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([[1, 1, 8, 1, 8, 8]], H, W))).astype(bool)
    assert np.array_equal(sample.objects[0].mask, want)
    assert np.array_equal(sample.objects[1].mask, mask_utils.decode(rle).astype(bool))
    bad = coco_root(tmp_path / "nan", anns=[ann([[1.0, float("nan"), 8.0, 1.0, 8.0, 8.0]])])
    with pytest.raises(BadSampleError, match="not a finite number"):
        coco(bad)[0]


def test_train_verifies_shards_before_reading_them(ds):
    """Training reads a shard's objects only after its sha256, schema and row count match the manifest."""
    from benchmark.train.data import index_dataset

    manifest = json.loads((ds / "manifest.json").read_text())
    rel = sorted(manifest["files"])[0]
    with open(ds / rel, "ab") as f:
        f.write(b"tampered")
    with pytest.raises(IntegrityError, match="sha256 differs"):
        index_dataset(ds)
