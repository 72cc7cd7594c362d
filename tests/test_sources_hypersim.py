"""Hypersim read from a fixture in the layout of apple/ml-hypersim's README: tone-mapped previews beside
semantic_instance HDF5 files (written with h5py, the [hypersim] extra, exactly as Hypersim's script does)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.data.sources import create_source
from benchmark.data.sources.errors import BadSampleError
from tests.test_sources_sam23 import H, W, _image

h5py = pytest.importorskip("h5py", reason="h5py (the [hypersim] extra, in [dev]) is not installed")


def _frame(root: Path, scene: str, cam: str, frame: str, ids: np.ndarray, image: bool = True) -> Path:
    images = root / scene / "images"
    if image:
        _image(images / f"scene_{cam}_final_preview" / f"frame.{frame}.tonemap.jpg")
    gt = images / f"scene_{cam}_geometry_hdf5" / f"frame.{frame}.semantic_instance.hdf5"
    gt.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(gt, "w") as f:
        f.create_dataset("dataset", data=ids.astype(np.int16), compression="gzip")
    return gt


def _ids(*values) -> np.ndarray:
    ids = np.full((H, W), -1, np.int64)
    for k, v in enumerate(values):
        ids[4 * k:4 * k + 3, 2:12] = v
    return ids


def test_hypersim_one_object_per_instance_id_of_each_frame(tmp_path):
    _frame(tmp_path, "ai_001_002", "cam_00", "0000", _ids(7, 12))
    _frame(tmp_path, "ai_001_002", "cam_01", "0003", _ids(5))
    _frame(tmp_path, "ai_001_001", "cam_00", "0001", _ids(3))
    (tmp_path / "ai_001_001" / "_detail").mkdir()  # metadata beside images: not frames
    (tmp_path / "downloads").mkdir()  # not a scene name
    src = create_source("hypersim", root=str(tmp_path))
    assert [src[i].image_id for i in range(len(src))] == ["ai_001_001_cam_00_0001", "ai_001_002_cam_00_0000",
                                                          "ai_001_002_cam_01_0003"]
    s = src[1]
    assert s.image.shape == (H, W, 3)
    assert [(o.id, int(o.mask.sum())) for o in s.objects] == [(7, 30), (12, 30)]  # -1 (no instance) is not one
    assert len(create_source("hypersim", root=str(tmp_path), stride=2)) == 2


@pytest.mark.parametrize("ids, message", [
    (_ids(0, 4), r"instance ids \[0\] are neither -1"),
    (_ids(-3), r"instance ids \[-3\] are neither -1"),
    (np.zeros((H, W, 2)), "needs a 2-D integer HDF5 dataset named 'dataset'"),
])
def test_hypersim_refuses_a_map_outside_hypersims_values(tmp_path, ids, message):
    gt = _frame(tmp_path, "ai_010_001", "cam_00", "0000", _ids(1))
    with h5py.File(gt, "w") as f:
        f.create_dataset("dataset", data=ids)
    with pytest.raises(BadSampleError, match=message):
        create_source("hypersim", root=str(tmp_path))[0]


def test_hypersim_refuses_a_non_hdf5_file_and_a_missing_preview(tmp_path):
    gt = _frame(tmp_path, "ai_010_001", "cam_00", "0000", _ids(1))
    gt.write_bytes(b"not hdf5")
    with pytest.raises(BadSampleError, match="semantic_instance.hdf5: is not a readable HDF5 file"):
        create_source("hypersim", root=str(tmp_path))[0]
    _frame(tmp_path / "b", "ai_010_001", "cam_00", "0000", _ids(1), image=False)
    with pytest.raises(BadSampleError, match="frame.0000.tonemap.jpg: file not found"):
        create_source("hypersim", root=str(tmp_path / "b"))[0]


def test_hypersim_hdf5_must_stay_inside_the_root(tmp_path):
    root = tmp_path / "scenes"
    gt = _frame(root, "ai_010_001", "cam_00", "0000", _ids(1))
    outside = tmp_path / "x.hdf5"
    gt.rename(outside)
    gt.symlink_to(outside)
    with pytest.raises(BadSampleError, match="outside"):
        create_source("hypersim", root=str(root))[0]

