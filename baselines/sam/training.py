"""The training side of the trainable SAM families (GaRA-SAM, RobustSAM): an official ``Sam`` subclass whose
``training_outputs`` runs the family's own training forward, so a trainer calls one method and needs to
know nothing of a family's internals. The inference adapters run under ``inference_mode`` and return no
tokens or features, which training needs; these forwards return them with gradients."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..training import TrainingBatch, TrainingOutputs
from .configs import official


class TrainableSam(official.Sam):
    """The official ``Sam`` (same parameters and keys) plus the steps every SAM training forward shares."""

    def training_outputs(self, batch: TrainingBatch, *, generator: Optional[torch.Generator] = None,
                         gumbel_tau: float = 0.5) -> TrainingOutputs:
        raise NotImplementedError(f"{type(self).__name__} has no training forward")

    def training_input(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """(B, 3, S, S) normalised model input from square uint8 images, resized as SAM's
        ``ResizeLongestSide.apply_image_torch`` does (bilinear, antialias), which RobustSAM's training uses."""
        size = int(self.image_encoder.img_size)
        x = torch.as_tensor(np.stack(images), device=self.pixel_mean.device).permute(0, 3, 1, 2).float()
        x = F.interpolate(x, (size, size), mode="bilinear", align_corners=False, antialias=True)
        return (x - self.pixel_mean.float()) / self.pixel_std.float()

    def training_prompt(self, points: Optional[np.ndarray], box: Optional[np.ndarray], train_size: int):
        """SAM prompt embeddings of one item's points or box, scaled from train_size to the model input."""
        device = self.pixel_mean.device
        scale = self.image_encoder.img_size / train_size
        pts = boxes = None
        if points is not None:
            p = torch.as_tensor(points * scale, device=device)[None]
            pts = (p, torch.ones(p.shape[:2], dtype=torch.int, device=device))
        if box is not None:
            boxes = torch.as_tensor(box * scale, device=device)[None]
        with torch.no_grad():  # SAM's prompt encoder stays frozen in both recipes
            return self.prompt_encoder(points=pts, boxes=boxes, masks=None)

    def to_train_size(self, low_res: torch.Tensor, train_size: int) -> torch.Tensor:
        """Low-res logits -> model input size -> train_size (square inputs carry no padding)."""
        size = int(self.image_encoder.img_size)
        x = F.interpolate(low_res.float(), (size, size), mode="bilinear", align_corners=False)
        return F.interpolate(x, (train_size, train_size), mode="bilinear", align_corners=False)
