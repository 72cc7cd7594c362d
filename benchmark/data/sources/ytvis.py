"""Video instance segmentation json in the YouTube-VIS format (OVIS publishes its annotations in it), read
frame by frame: each annotated frame of a video is one sample, each instance with a mask in that frame one
object.

The format: ``videos`` (id, width, height, file_names: one path per frame relative to the image folder),
``annotations`` (id, video_id, category_id, iscrowd, segmentations: one polygon list, RLE or null per
frame) and ``categories`` (id, name). The json is checked as strictly as COCO json (``coco_index``):
integer ids, unique per list, no dangling video or category id, ``iscrowd`` 0 or 1, one segmentation per
frame, frame paths inside the image folder; any violation is an error naming the file and the record."""
from __future__ import annotations

import os
from pathlib import Path

from ..schema import ObjectAnn, Sample
from .base import Source, register_source
from .coco import _is_int, decode_segmentation, file_in
from .common import files_digest, load_json, nonempty, require_dir, require_file, resolve_root
from .errors import BadSampleError
from .imageio import read_image
from ...errors import BadInputError, UsageError


def _records(data, key: str, where: str) -> list:
    recs = data.get(key) if isinstance(data, dict) else None
    if not isinstance(recs, list) or not all(isinstance(r, dict) for r in recs):
        raise BadInputError(f"{where}: '{key}' must be a list of objects (is it a YouTube-VIS json?)")
    ids = [r.get("id") for r in recs]
    bad = [i for i in ids if not _is_int(i)]
    if bad:
        raise BadInputError(f"{where}: every record of '{key}' needs an integer 'id', got {bad[0]!r}")
    seen: set = set()
    for i in ids:
        if i in seen:
            raise BadInputError(f"{where}: duplicate id {i} in '{key}'")
        seen.add(i)
    return recs


def _check_video(v: dict, img_dir: Path, where: str) -> list[Path]:
    h, w, names = v.get("height"), v.get("width"), v.get("file_names")
    if not (_is_int(h) and _is_int(w) and h > 0 and w > 0):
        raise BadInputError(f"{where}: video {v['id']}: height/width must be positive integers, got {h!r}x{w!r}")
    if not isinstance(names, list) or not names:
        raise BadInputError(f"{where}: video {v['id']}: 'file_names' must be a non-empty list of frame paths")
    try:
        return [file_in(img_dir, n, "file_names entry") for n in names]
    except ValueError as e:
        raise BadInputError(f"{where}: video {v['id']}: {e}") from None


@register_source("ovis", description="OVIS occluded video instances (YouTube-VIS json), one sample per annotated "
                                     "frame; stride=N keeps every N-th frame of each video",
                 layout="<root>/<annotations> (default annotations_train.json) + frames at "
                        "<root>/<images>/<video>/<frame>.jpg (default train/) as listed in each video's file_names")
class YtvisFramesSource(Source):
    license = "OVIS terms: non-commercial research use (OVIS website; not re-checked here)"
    citation = ("@article{qi2022occluded, title={Occluded Video Instance Segmentation: A Benchmark}, author={Qi, "
                "Jiyang and Gao, Yan and Hu, Yao and Wang, Xinggang and Liu, Xiaoyu and Bai, Xiang and Belongie, "
                "Serge and Yuille, Alan and Torr, Philip and Bai, Song}, journal={IJCV}, year={2022}}")
    homepage = "https://songbai.site/ovis/"

    def __init__(self, root: str | os.PathLike, annotations: str = "annotations_train.json", images: str = "train",
                 stride: int = 1):
        self.root = resolve_root(root, self.name)
        if not _is_int(stride) or stride < 1:
            raise UsageError(f"{self.name}: stride must be a whole number >= 1, not {stride!r}")
        ann = require_file(self.root / annotations, self.name, "annotation file")
        img_dir = require_dir(self.root / images, self.name, "frame")
        self.ann_files, self.options = [ann], {"annotations": annotations, "images": images, "stride": stride}
        where = f"{self.name}: {ann}"
        data = load_json(ann, self.name)
        cats = {c["id"]: c.get("name") for c in _records(data, "categories", where)}
        if not all(isinstance(n, str) for n in cats.values()):
            raise BadInputError(f"{where}: every category needs a string 'name'")
        videos = {v["id"]: (v, _check_video(v, img_dir, where)) for v in _records(data, "videos", where)}
        frames: dict[tuple, list] = {}
        for a in _records(data, "annotations", where):
            vid, cat, crowd, segs = a.get("video_id"), a.get("category_id"), a.get("iscrowd", 0), a.get("segmentations")
            if not _is_int(vid) or vid not in videos:
                raise BadInputError(f"{where}: annotation {a['id']}: video_id {vid!r} names no video")
            if not _is_int(cat) or cat not in cats:
                raise BadInputError(f"{where}: annotation {a['id']}: category_id {cat!r} names no category")
            if not _is_int(crowd) or crowd not in (0, 1):
                raise BadInputError(f"{where}: annotation {a['id']}: iscrowd must be 0 or 1, got {crowd!r}")
            if not isinstance(segs, list) or len(segs) != len(videos[vid][1]):
                raise BadInputError(f"{where}: annotation {a['id']}: 'segmentations' must hold one entry per frame "
                                    f"({len(videos[vid][1])})")
            for k, seg in enumerate(segs):
                if seg is not None and k % stride == 0:
                    frames.setdefault((vid, k), []).append((a["id"], seg, cats[cat], bool(crowd)))
        self.items = []
        for (vid, k), anns in sorted(frames.items()):
            v, paths = videos[vid]
            self.items.append((f"{vid}_{Path(v['file_names'][k]).stem}", paths[k], v["height"], v["width"],
                               sorted(anns, key=lambda t: t[0])))
        seen: set = set()
        for image_id, *_ in self.items:
            if image_id in seen:
                raise BadInputError(f"{where}: two frames of one video share the file name stem ({image_id!r})")
            seen.add(image_id)

    def __len__(self) -> int:
        return len(self.items)

    def params(self) -> dict:
        return {"root": str(self.root), **self.options, "annotations_sha256": files_digest(self.ann_files, self.root)}

    def __getitem__(self, index: int) -> Sample:
        image_id, path, h, w, anns = self.items[index]
        image = read_image(path, root=self.root)
        if image.shape[:2] != (h, w):
            raise BadSampleError(path, f"frame is {image.shape[1]}x{image.shape[0]} but the json says {w}x{h}")
        objects = [ObjectAnn(id=int(ann_id), mask=decode_segmentation(seg, h, w, f"{self.ann_files[0]} (annotation "
                                                                                  f"{ann_id}, frame {path.name})"),
                             category=cat, iscrowd=crowd) for ann_id, seg, cat, crowd in anns]
        return Sample(image_id=image_id, image=image, objects=nonempty(objects), source=self.name)
