"""Hypersim photorealistic indoor renders, as the dataset publishes them (apple/ml-hypersim README): one folder
per scene ``ai_VVV_NNN``; per camera trajectory ``cam_XX`` the tone-mapped preview
``images/scene_cam_XX_final_preview/frame.IIII.tonemap.jpg`` and the semantic instance ids
``images/scene_cam_XX_geometry_hdf5/frame.IIII.semantic_instance.hdf5`` (HDF5 dataset ``dataset``, int16).

Each instance id of a frame is one object; -1 (no instance, Hypersim's value for unlabelled pixels) is not.
Hypersim's own script writes only -1 and ids >= 1, so any other value is an error naming the file. The HDF5
is read with h5py, an optional extra (``pip install -e ".[hypersim]"``), imported only by this source."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..schema import Sample
from .base import Source, register_source
from .common import check_same_size, objects_from_ids, resolve_root
from .errors import BadSampleError
from .imageio import read_image
from ...errors import UsageError
from ...paths import file_problem

SCENE = re.compile(r"ai_\d{3}_\d{3}")
GT = re.compile(r"scene_(cam_\d{2})_geometry_hdf5")
FRAME = re.compile(r"frame\.(\d{4})\.semantic_instance\.hdf5")


def _h5py():
    try:
        import h5py
    except ImportError:
        raise UsageError('hypersim: reading Hypersim\'s HDF5 ground truth needs h5py: pip install -e ".[hypersim]"'
                         ) from None
    return h5py


def read_instance_ids(path: Path, root: Path) -> np.ndarray:
    """The HxW instance-id map of one ``semantic_instance.hdf5``, refused unless it is a regular file inside
    ``root`` holding a 2-D integer ``dataset`` of -1 and ids >= 1."""
    if problem := file_problem(path, root):
        raise BadSampleError(path, problem)
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as f:
            ds = f.get("dataset")
            if not isinstance(ds, h5py.Dataset) or ds.ndim != 2 or ds.dtype.kind not in "iu":
                raise BadSampleError(path, "needs a 2-D integer HDF5 dataset named 'dataset' (Hypersim's layout)")
            ids = ds[()].astype(np.int64)
    except OSError as e:
        raise BadSampleError(path, f"is not a readable HDF5 file ({e})") from None
    bad = np.unique(ids[(ids < -1) | (ids == 0)])
    if bad.size:
        raise BadSampleError(path, f"instance ids {bad[:5].tolist()} are neither -1 (none) nor >= 1")
    return ids


@register_source("hypersim", description="Hypersim indoor renders: tone-mapped previews, one object per semantic "
                                         "instance id (HDF5; needs the [hypersim] extra)",
                 layout="<root>/ai_VVV_NNN/images/scene_cam_XX_final_preview/frame.IIII.tonemap.jpg + "
                        "<root>/ai_VVV_NNN/images/scene_cam_XX_geometry_hdf5/frame.IIII.semantic_instance.hdf5")
class HypersimSource(Source):
    license = "CC BY-SA 3.0 (Hypersim README)"
    citation = ("@inproceedings{roberts2021hypersim, title={Hypersim: A Photorealistic Synthetic Dataset for Holistic "
                "Indoor Scene Understanding}, author={Roberts, Mike and Ramapuram, Jason and Ranjan, Anurag and "
                "Kumar, Atulit and Bautista, Miguel Angel and Paczan, Nathan and Webb, Russ and Susskind, Joshua M.}, "
                "booktitle={ICCV}, year={2021}}")
    homepage = "https://github.com/apple/ml-hypersim"

    def __init__(self, root: str | os.PathLike, stride: int = 1):
        _h5py()  # fail at construction, naming the extra, rather than on the first sample
        self.root = resolve_root(root, self.name)
        if not isinstance(stride, int) or isinstance(stride, bool) or stride < 1:
            raise UsageError(f"hypersim: stride must be a whole number >= 1 (1 = every frame), not {stride!r}")
        self.stride = stride
        frames = []
        for scene in sorted(p for p in self.root.iterdir() if p.is_dir() and SCENE.fullmatch(p.name)):
            images = scene / "images"
            if not images.is_dir():
                continue
            for gt in sorted(p for p in images.iterdir() if p.is_dir() and GT.fullmatch(p.name)):
                cam = GT.fullmatch(gt.name)[1]
                frames += [(scene.name, cam, m[1]) for f in sorted(gt.iterdir()) if (m := FRAME.fullmatch(f.name))]
        self.frames = frames[::stride]  # every stride-th frame in (scene, camera, frame) order

    def __len__(self) -> int:
        return len(self.frames)

    def params(self) -> dict:
        return {"root": str(self.root), "stride": self.stride}

    def __getitem__(self, index: int) -> Sample:
        scene, cam, frame = self.frames[index]
        images = self.root / scene / "images"
        img_path = images / f"scene_{cam}_final_preview" / f"frame.{frame}.tonemap.jpg"
        gt_path = images / f"scene_{cam}_geometry_hdf5" / f"frame.{frame}.semantic_instance.hdf5"
        image = read_image(img_path, root=self.root)
        ids = read_instance_ids(gt_path, self.root)
        check_same_size(ids, image, gt_path, img_path)
        objects = objects_from_ids(ids, ignore=(-1,))
        return Sample(image_id=f"{scene}_{cam}_{frame}", image=image, objects=objects, source=self.name)
