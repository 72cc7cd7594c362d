"""DAFormer's thing-class ImageNet feature distance (FD), which ECOCSeg's UDA config switches on
(``imnet_feature_dist_lambda=0.005``, ``imnet_feature_dist_classes=[6, 7, 11, ..., 18]``,
``imnet_feature_dist_scale_min_ratio=0.75``; Woof6/ECOCSeg ``mmseg/models/uda/dacs.py`` ``calc_feat_dist``,
``mmseg/utils/utils.py`` ``downscale_label_ratio``; facts only).

Why: self-training on a synthetic source drifts the encoder away from the ImageNet features that carry
the thing classes (cars, people, signs) to real images; FD pulls the student's last-stage features on
source pixels of those classes back towards those of the frozen ImageNet-pretrained encoder. It needs that
encoder, so it is on only when the run starts from one (``--init-checkpoint``)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

#: Cityscapes' thing classes, the config's class indices 6, 7, 11-18 of its 19, by name so that a build
#: with another class list (SYNTHIA's 16) selects the same classes
THING_CLASSES = ("traffic light", "traffic sign", "person", "rider", "car", "truck", "bus", "train", "motorcycle",
                 "bicycle")
IGNORE_INDEX = 255


def downscale_label_ratio(labels: torch.Tensor, scale: int, min_ratio: float, num_classes: int) -> torch.Tensor:
    """(B, H, W) labels to (B, H // scale, W // scale): each cell takes its majority class (ignore counted
    as a class of its own) and is ignored where that class covers less than ``min_ratio`` of the cell."""
    if scale < 2:
        raise ValueError(f"feature distance: the label map must be larger than the features (scale {scale})")
    out = labels.long().clone()
    out[out == IGNORE_INDEX] = num_classes
    share = F.avg_pool2d(F.one_hot(out, num_classes + 1).permute(0, 3, 1, 2).float(), kernel_size=scale)
    ratio, out = share.max(dim=1)
    out[out == num_classes] = IGNORE_INDEX
    out[ratio < min_ratio] = IGNORE_INDEX
    return out


@dataclass
class FeatureDistance:
    """``weight`` x the mean L2 distance, over the feature cells whose downscaled source label is one of
    ``classes`` (None: every cell), between the student's last-stage features and those of ``encoder``
    (frozen, in eval mode, never trained)."""

    encoder: torch.nn.Module
    weight: float
    classes: torch.Tensor | None  # class indices
    min_ratio: float
    num_classes: int

    def __call__(self, features: torch.Tensor, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            reference = self.encoder(images)[-1]
        dist = torch.linalg.vector_norm(features - reference, dim=1)  # (B, h, w)
        if self.classes is not None:
            scale = labels.shape[-1] // features.shape[-1]
            cells = downscale_label_ratio(labels, scale, self.min_ratio, self.num_classes)
            if cells.shape[-2:] != dist.shape[-2:]:  # a crop not a multiple of the stride (DAFormer asserts)
                cells = F.interpolate(cells[:, None].float(), size=dist.shape[-2:], mode="nearest")[:, 0].long()
            dist = dist[(cells[..., None] == self.classes.to(cells.device)).any(-1)]
        if dist.numel() == 0:  # no thing-class cell in the batch: DAFormer's mean is NaN there, its gradient 0
            return features.sum() * 0.0
        return self.weight * dist.mean()


def class_indices(names: str, classes: list[str]) -> torch.Tensor | None:
    """The indices of a comma list of class ``names`` in the build's ``classes``; "all": None (every cell,
    DAFormer's ``dacs_fd``). A Cityscapes class the build lacks is skipped (SYNTHIA has no truck or train);
    any other unknown name, or none left, is a UsageError naming the option."""
    from baselines.segformer.model import CITYSCAPES_CLASSES

    from ..errors import UsageError

    if names == "all":
        return None
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in classes and n not in CITYSCAPES_CLASSES]
    kept = [classes.index(n) for n in wanted if n in classes]
    if unknown or not kept:
        raise UsageError(f"recipe option fd_classes={names!r}: must be 'all' or a comma list of class names of the "
                         f"build ({', '.join(classes)})" + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    return torch.tensor(kept, dtype=torch.long)
