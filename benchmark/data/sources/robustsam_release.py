"""The RobustSAM (Robust-Seg) release layout, read as published.

``<root>/<split>/clear/*.jpg`` with ``<root>/<split>/masks/*.npy`` (all instance masks of one
image, an (N, H, W) bool array), paired by sorted position exactly as RobustSAM's dataset.py
does; degradation folders ``<root>/<split>/<degradation>/*.jpg`` (made locally by its
augment.py, same file names as clear/) become real-condition samples named after the folder,
with the clear image's masks and ``image_id``.

The release ships ``clear.zip`` and ``masks.zip`` per split: with ``extract=True`` a missing
``clear/`` or ``masks/`` folder is extracted from its zip (safely and atomically, see archive.py);
without it the reader names the zips and the option instead of extracting into the user's data
folder unasked.

``member`` keeps only the images of the named original datasets of the pooled ``test`` split
(MSRA10K for Table 2; NDD20, STREETS and FSS-1000 for Table 4), by the rule in
robustsam_members.py: a user's ``members_file`` list, else an image-size rule that is an assumption."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional

import numpy as np

from ..schema import ObjectAnn, Sample
from .archive import ensure_extracted
from .base import Source, register_source
from .common import require_dir, require_file, resolve_root, sha256_file
from ...errors import UsageError
from ...paths import file_problem
from .errors import BadSampleError
from .imageio import read_image
from .robustsam_members import RULE_TEXT, members_of, parse_members, read_members_file
from ...errors import BadInputError, MissingInputError, UsageError

RESERVED = ("clear", "masks")


def read_npy_masks(path: Path, root: Optional[Path] = None) -> np.ndarray:
    """(N, H, W) bool from a RobustSAM masks file; a single (H, W) mask is N = 1."""
    if problem := file_problem(path, root):
        raise BadSampleError(path, problem)
    try:
        a = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise BadSampleError(path, "file not found") from None
    except (ValueError, OSError, EOFError) as e:  # pickled data is refused here: allow_pickle=False
        raise BadSampleError(path, f"not a readable .npy array: {e}") from None
    if not isinstance(a, np.ndarray):
        a.close()
        raise BadSampleError(path, "an .npz archive, not a single .npy array")
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise BadSampleError(path, f"expected (N, H, W) masks, got shape {a.shape}")
    if a.dtype != np.bool_ and not (np.issubdtype(a.dtype, np.integer) and a.size and a.min() >= 0 and a.max() <= 1):
        raise BadSampleError(path, f"expected boolean (or 0/1) masks, got dtype {a.dtype}")
    return a.astype(bool)


@register_source("robustsam_release", description="RobustSAM release: clear/*.jpg + masks/*.npy per split, plus "
                                                   "locally generated degradation folders as real conditions",
                 layout="<root>/<split>/clear/<name>.jpg + <root>/<split>/masks/<name>.npy ((N,H,W) bool), "
                        "optional <root>/<split>/<degradation>/<name>.jpg; extract=true unpacks the released "
                        "<split>/clear.zip and masks.zip; member=msra10k|ndd20|streets|fss1000 (comma list) keeps one "
                        "original dataset of the pooled test split (members_file=<csv name,member>, else by image "
                        "size: an assumption)")
class RobustSamReleaseSource(Source):
    license = "see the RobustSAM release terms (images from LVIS, MSRA10K, ThinObject-5K, NDD20, STREETS, FSS-1000)"
    citation = ("@inproceedings{chen2024robustsam, title={RobustSAM: Segment Anything Robustly on Degraded Images}, "
                "author={Chen, Wei-Ting and Vong, Yu-Jiet and Kuo, Sy-Yen and Ma, Sizhuo and Wang, Jian}, "
                "booktitle={CVPR}, year={2024}}")
    homepage = "https://huggingface.co/robustsam/robustsam"

    def __init__(self, root: str | os.PathLike, split: str = "test", degradations: str = "", clear: bool = True,
                 extract: bool = False, member: str = "", members_file: str = ""):
        self.root = resolve_root(root, self.name)
        if not split or Path(split).name != split or split in (".", ".."):
            raise UsageError(f"{self.name}: split must be a folder name under the root (train, val, test, coco, "
                             f"lvis), not {split!r}")
        base = require_dir(self.root / split, self.name, "split")
        zipped = [n for n in RESERVED if not (base / n).is_dir() and (base / f"{n}.zip").is_file()]
        if zipped and not extract:
            raise MissingInputError(f"{self.name}: {base} has {', '.join(f'{n}.zip' for n in zipped)} but no "
                                    f"{' or '.join(n + '/' for n in zipped)} folder; pass extract=true "
                                    "(--source-option extract=true) to unpack the release archives safely, or "
                                    "unzip them there yourself")
        if extract:
            ensure_extracted(base, RESERVED)
        self.clear_files = sorted(require_dir(base / "clear", self.name, "clear image").glob("*.jpg"))
        self.mask_files = sorted(require_dir(base / "masks", self.name, "masks").glob("*.npy"))
        if len(self.clear_files) != len(self.mask_files):
            raise BadInputError(f"{self.name}: {base}/clear has {len(self.clear_files)} images but {base}/masks has "
                             f"{len(self.mask_files)} .npy files; pairing is by sorted position, so they must match")
        split_names = [p.name for p in self.clear_files]
        self.member, self.members_rule = "", ""
        if member or members_file:
            self.members_path = (require_file(Path(members_file).expanduser().resolve(), self.name, "members_file")
                                 if members_file else None)
            listed = read_members_file(self.members_path) if self.members_path else None
            wanted = parse_members(member or ",".join(sorted(set(listed.values()))))
            keep = [m in wanted for m in members_of(self.clear_files, listed)]
            # pairing by sorted position happens above, over the whole split, exactly as RobustSAM's dataset.py
            self.clear_files = [p for p, k in zip(self.clear_files, keep) if k]
            self.mask_files = [p for p, k in zip(self.mask_files, keep) if k]
            self.member = ",".join(sorted(wanted))
            self.members_rule = (f"list {members_file} (sha256 {sha256_file(self.members_path)})"
                                 if self.members_path else RULE_TEXT)
        present = sorted(p.name for p in base.iterdir() if p.is_dir() and p.name not in RESERVED)
        wanted = present if degradations == "all" else [d.strip() for d in degradations.split(",") if d.strip()]
        for d in wanted:
            folder = require_dir(base / d, self.name, "degradation")
            names = sorted(p.name for p in folder.glob("*.jpg"))
            if names != split_names:
                raise BadInputError(f"{self.name}: {folder} does not hold exactly the file names of {base}/clear "
                                 f"({len(names)} vs {len(split_names)} files)")
        self.split, self.base = split, base
        self.conditions = (["clear"] if clear else []) + wanted
        if not self.conditions:
            raise UsageError(f"{self.name}: nothing to read: clear=False and no degradations chosen")

    def __len__(self) -> int:
        return len(self.conditions) * len(self.clear_files)

    def params(self) -> dict:
        out = {"root": str(self.root), "split": self.split, "conditions": self.conditions,
               "images": len(self.clear_files)}
        if self.member:
            names = "\n".join(p.name for p in self.clear_files).encode()
            out |= {"member": self.member, "members_rule": self.members_rule,
                    "image_names_sha256": hashlib.sha256(names).hexdigest()}
        return out

    def __getitem__(self, index: int) -> Sample:
        cond, k = divmod(index, len(self.clear_files))
        condition = self.conditions[cond]
        clear_path = self.clear_files[k]
        img_path = clear_path if condition == "clear" else self.base / condition / clear_path.name
        image = read_image(img_path, root=self.root)
        masks = read_npy_masks(self.mask_files[k], self.root)
        if masks.shape[1:] != image.shape[:2]:
            raise BadSampleError(self.mask_files[k], f"masks are {masks.shape[2]}x{masks.shape[1]} (WxH) but "
                                                     f"{img_path.name} is {image.shape[1]}x{image.shape[0]}")
        objects = [ObjectAnn(id=i + 1, mask=m) for i, m in enumerate(masks) if m.any()]
        return Sample(image_id=clear_path.stem, image=image, objects=objects, source=self.name, condition=condition)
