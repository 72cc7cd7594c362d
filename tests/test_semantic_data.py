"""Semantic sources in their published layouts (fixtures written here, and the real Cityscapes frame),
label maps through corruptions, and a semantic build read back with ``datasets``."""
import cv2
import numpy as np
import pytest
from PIL import Image

import corruptions
from benchmark.data.build import BuildConfig, build
from benchmark.data.sources import create_source
from benchmark.data.sources.errors import BadSampleError
from benchmark.data.sources.semantic import CITYSCAPES_TO_TRAIN, SYNTHIA_TO_TRAIN

RNG = np.random.default_rng(0)
H, W = 24, 32


def _img(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), RNG.integers(0, 256, (H, W, 3), dtype=np.uint8))


def _lab(path, a):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), a)


def _expected(ids, table):
    return np.vectorize(lambda v: table.get(int(v), 255))(ids).astype(np.uint8)


def test_real_cityscapes_label_ids_map_to_the_published_train_ids(shared_data):
    root = shared_data / "adverse/cityscapes"
    src = create_source("cityscapes-semantic", root=root)
    s = src[0]
    gt = root / "gtFine/val/frankfurt"
    label_ids = cv2.imread(str(next(gt.glob("*_labelIds.png"))), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(s.label, _expected(label_ids, CITYSCAPES_TO_TRAIN))
    # instanceIds (class * 1000 + k for things) agree with labelIds everywhere
    inst = cv2.imread(str(next(gt.glob("*_instanceIds.png"))), cv2.IMREAD_UNCHANGED).astype(np.int64)
    np.testing.assert_array_equal(np.where(inst >= 1000, inst // 1000, inst), label_ids)
    # the staged labelTrainIds file was downscaled separately by its source (mmsegmentation's test data):
    # it disagrees with its own labelIds on 77 of 32768 boundary pixels, so labelIds is the reference
    published = cv2.imread(str(next(gt.glob("*_labelTrainIds.png"))), cv2.IMREAD_UNCHANGED)
    assert int((s.label != published).sum()) == 77
    assert s.image.shape == (128, 256, 3) and s.image_id == "frankfurt_000000_000294"


def test_cityscapes_and_gta5_fixtures(tmp_path):
    ids = RNG.integers(0, 34, (H, W)).astype(np.uint8)
    _img(tmp_path / "cs/leftImg8bit/val/aachen/a_000000_000001_leftImg8bit.png")
    _lab(tmp_path / "cs/gtFine/val/aachen/a_000000_000001_gtFine_labelIds.png", ids)
    np.testing.assert_array_equal(create_source("cityscapes-semantic", root=tmp_path / "cs")[0].label,
                                  _expected(ids, CITYSCAPES_TO_TRAIN))
    _img(tmp_path / "gta/images/00001.png")
    pal = Image.fromarray(ids, mode="P")
    pal.putpalette(list(RNG.integers(0, 256, 768)))  # GTA5 labels are palette PNGs whose indices are the ids
    (tmp_path / "gta/labels").mkdir(parents=True)
    pal.save(tmp_path / "gta/labels/00001.png")
    s = create_source("gta5", root=tmp_path / "gta")[0]
    np.testing.assert_array_equal(s.label, _expected(ids, CITYSCAPES_TO_TRAIN))


def test_synthia_fixture_reads_the_class_from_the_first_channel(tmp_path):
    cls = RNG.integers(0, 23, (H, W)).astype(np.uint16)
    inst = RNG.integers(0, 60000, (H, W)).astype(np.uint16)
    _img(tmp_path / "RGB/0000001.png")
    _lab(tmp_path / "GT/LABELS/0000001.png", np.dstack([inst, inst, cls]))  # OpenCV writes BGR: R = class
    s = create_source("synthia", root=tmp_path)[0]
    np.testing.assert_array_equal(s.label, _expected(cls, SYNTHIA_TO_TRAIN))


def test_acdc_and_bdd100k_train_id_fixtures(tmp_path):
    tid = np.where(RNG.random((H, W)) < 0.2, 255, RNG.integers(0, 19, (H, W))).astype(np.uint8)
    for cond in ("fog", "night", "rain", "snow"):
        _img(tmp_path / f"acdc/rgb_anon/{cond}/val/GOPR0001/GOPR0001_frame_{cond}_rgb_anon.png")
        _lab(tmp_path / f"acdc/gt/{cond}/val/GOPR0001/GOPR0001_frame_{cond}_gt_labelTrainIds.png", tid)
    src = create_source("acdc-semantic", root=tmp_path / "acdc")
    assert [src[i].condition for i in range(len(src))] == ["fog", "night", "rain", "snow"]
    assert src.real_conditions
    np.testing.assert_array_equal(src[2].label, tid)
    (tmp_path / "bdd/images/10k/val").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "bdd/images/10k/val/b1c66a42-6f7d68ca.jpg"), RNG.integers(0, 256, (H, W, 3), dtype=np.uint8))
    _lab(tmp_path / "bdd/labels/sem_seg/masks/val/b1c66a42-6f7d68ca.png", tid)
    np.testing.assert_array_equal(create_source("bdd100k-semantic", root=tmp_path / "bdd")[0].label, tid)
    bad = tid.copy()
    bad[0, 0] = 40
    _lab(tmp_path / "bdd/labels/sem_seg/masks/val/b1c66a42-6f7d68ca.png", bad)
    with pytest.raises(BadSampleError, match=r"values \[40\] are neither train ids"):
        create_source("bdd100k-semantic", root=tmp_path / "bdd")[0]


def test_label_maps_move_with_geometric_corruptions_only():
    img = RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    lab = np.where(RNG.random((48, 64)) < 0.1, 255, np.arange(64)[None].repeat(48, 0) // 8).astype(np.uint8)
    for c in corruptions.list_corruptions("robustsam"):
        out, moved = corruptions.apply_corruption_labels(c.key, img, lab, severity=c.severities[-1], image_id="x")
        same, _ = corruptions.apply_corruption(c.key, img, None, severity=c.severities[-1], image_id="x")
        np.testing.assert_array_equal(out, same)  # the image is corrupted exactly as without labels
        if c.geometric:
            assert set(np.unique(moved)) <= set(np.unique(lab)) and (moved != lab).any()
            masks = lab[None] == np.unique(lab)[:, None, None]
            _, warped = corruptions.apply_corruption(c.key, img, masks, severity=c.severities[-1], image_id="x")
            assert (warped.sum(0) == 1).all()  # nearest sampling keeps the masks a partition: no pixel unlabelled
        else:
            np.testing.assert_array_equal(moved, lab)


def test_semantic_build_round_trips_through_datasets(tmp_path, shared_data):
    from datasets import load_dataset

    cfg = BuildConfig(source="cityscapes-semantic", source_options={"root": str(shared_data / "adverse/cityscapes")},
                      profile="robustsam/elastic_transform,robustsam/gauss_noise", image_format="png")
    r = build(cfg, tmp_path / "ds")
    assert r.complete and r.manifest["task"] == "semantic" and len(r.manifest["classes"]) == 19
    assert "| 18 | bicycle |" in (tmp_path / "ds/README.md").read_text()
    clear = load_dataset(str(tmp_path / "ds"), "default", split="clear")[0]
    src = create_source("cityscapes-semantic", root=shared_data / "adverse/cityscapes")[0]
    np.testing.assert_array_equal(np.array(clear["label"]), src.label)
    np.testing.assert_array_equal(np.array(clear["image"].convert("RGB")), src.image)
    warped = np.array(load_dataset(str(tmp_path / "ds"), "default", split="elastic_transform")[0]["label"])
    assert set(np.unique(warped)) <= set(np.unique(src.label)) and (warped != src.label).any()
    again = build(cfg, tmp_path / "ds2").manifest
    assert again["files"] == r.manifest["files"]  # a build is a pure function of (source, profile, seed)


def test_split_option_cannot_leave_the_dataset_folder(tmp_path):
    with pytest.raises(ValueError, match="must be a folder name"):
        create_source("cityscapes-semantic", root=tmp_path, split="../../etc")
