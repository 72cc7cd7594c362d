"""SAM 2 image prediction behind the contract, as the official ``SAM2ImagePredictor`` does it: the image is
resized to a square S x S (no aspect-preserving padding, unlike SAM 1), prompts are scaled per axis, a box
is two corner points put before the clicks, low-res logits are resized straight to the image, and the
returned low-res logits are clamped to [-32, 32]."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..contract import Prediction, PromptableSegmenter, Prompts, resolve_device, resolve_dtype
from ..sam.predictor import check_image, check_mask_inputs


class Sam2Predictor(PromptableSegmenter):
    mask_threshold = 0.0

    def __init__(self, model, device: str = "cpu", dtype="float32"):
        self.device = torch.device(resolve_device(device))
        self.dtype = resolve_dtype(dtype)
        self.model = model.eval().to(self.device)  # weights stay float32; reduced precision via autocast
        self.size = int(model.image_size)
        self._features: Optional[dict] = None
        self._hw: tuple[int, int] = (0, 0)

    def preprocess(self, image: np.ndarray) -> torch.Tensor:
        """uint8 HxWx3 -> normalised (1, 3, S, S), as SAM2Transforms (ToTensor, Resize, Normalize)."""
        x = torch.as_tensor(image, device=self.device).permute(2, 0, 1)[None].float() / 255.0
        # torchvision's Resize on a tensor is F.interpolate(bilinear, antialias=True) since torchvision 0.17
        x = F.interpolate(x, (self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        mean = torch.tensor(self.model.pixel_mean, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(self.model.pixel_std, device=self.device).view(1, 3, 1, 1)
        return (x - mean) / std

    def set_image(self, image: np.ndarray) -> None:
        image = check_image(image, self.name)
        with torch.inference_mode(), self._autocast():
            self._features = self.model.encode(self.preprocess(image))
        self._hw = image.shape[:2]

    def _prompt_points(self, prompts: Prompts, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N, 2) model-input coordinates and (B, N) labels: box corners (2, 3) first, then clicks."""
        h, w = self._hw
        scale = np.array([self.size / w, self.size / h])
        coords, labels = [], []
        if prompts.boxes is not None:
            coords.append(np.asarray(prompts.boxes, np.float64).reshape(n, 2, 2) * scale)
            labels.append(np.tile(np.array([[2, 3]]), (n, 1)))
        if prompts.points is not None:
            if prompts.point_labels is None:
                raise ValueError(f"{self.name}: points given without point_labels")
            coords.append(np.asarray(prompts.points, np.float64) * scale)
            labels.append(np.asarray(prompts.point_labels))
        c = torch.as_tensor(np.concatenate(coords, 1), dtype=torch.float32, device=self.device)
        lab = torch.as_tensor(np.concatenate(labels, 1), dtype=torch.int32, device=self.device)
        return c, lab

    def predict(self, prompts: Prompts, multimask: bool = False) -> Prediction:
        if self._features is None:
            raise RuntimeError(f"{self.name}: call set_image() before predict()")
        n = len(prompts)
        coords, labels = self._prompt_points(prompts, n)
        masks = None
        if prompts.mask_inputs is not None:
            want = (n, 1, *self.model.sam_prompt_encoder.mask_input_size)
            masks = torch.as_tensor(check_mask_inputs(prompts.mask_inputs, want, self.name), device=self.device)
        with torch.inference_mode(), self._autocast():
            logits, scores, unc = self.model.decode(self._features, coords, labels, masks, multimask)
            up = F.interpolate(logits.float(), self._hw, mode="bilinear", align_corners=False)
            unc_up = None if unc is None else F.interpolate(unc.float(), self._hw, mode="bilinear", align_corners=False)
        return Prediction(masks=(up > self.mask_threshold).cpu().numpy(),
                          scores=scores.float().cpu().numpy().astype(np.float32),
                          logits=logits.float().clamp(-32.0, 32.0).cpu().numpy().astype(np.float32),
                          uncertainty=None if unc_up is None else unc_up.clamp(0.0, 1.0).cpu().numpy())

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32)
