"""Shared SAM-family inference: the official preprocessing (resize longest side, normalise, pad), prompt
coordinate transforms, and postprocessing of low-res logits to the input size, around a family-specific
``encode``/``decode``. Written without torchvision; equal to ``segment_anything.SamPredictor`` (tested)."""
from __future__ import annotations

from typing import Optional

import numpy as np
from PIL import Image

from ..contract import Prediction, PromptableSegmenter, Prompts, resolve_device, resolve_dtype
from ._compat import require_torch


def preprocess_shape(h: int, w: int, long_side: int) -> tuple[int, int]:
    """(h, w) after scaling the longer side to ``long_side``, rounded as SAM's ResizeLongestSide does."""
    scale = long_side / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


def resize_longest(image: np.ndarray, long_side: int) -> np.ndarray:
    """Bilinear PIL resize of a uint8 HxWx3 image so its longer side is ``long_side`` (SAM's choice)."""
    h, w = preprocess_shape(*image.shape[:2], long_side)
    return np.array(Image.fromarray(image).resize((w, h), Image.BILINEAR))


def scale_coords(coords: np.ndarray, original_hw: tuple[int, int], long_side: int) -> np.ndarray:
    """Map (..., 2) xy pixel coordinates of the original image into the resized model input."""
    oh, ow = original_hw
    nh, nw = preprocess_shape(oh, ow, long_side)
    out = np.array(coords, dtype=np.float64, copy=True)
    out[..., 0] *= nw / ow
    out[..., 1] *= nh / oh
    return out


def check_image(image: np.ndarray, who: str) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"{who}: set_image needs a uint8 HxWx3 RGB array, got "
                         f"{getattr(image, 'dtype', type(image))} {getattr(image, 'shape', '')}")
    return image


def check_mask_inputs(mask_inputs, want: tuple, who: str) -> np.ndarray:
    """``mask_inputs`` as float32 when it has the shape ``want`` of this model's low-res logits."""
    if tuple(np.shape(mask_inputs)) != want:
        raise ValueError(f"{who}: mask_inputs must be {want} low-res logits (this model's "
                         f"Prediction.logits), got {np.shape(mask_inputs)}")
    return np.asarray(mask_inputs, np.float32)


def _take(features, i: int):
    """Image i of batched features (tensors, or dicts/lists/tuples of them), keeping the batch dim."""
    if isinstance(features, dict):
        return {k: _take(v, i) for k, v in features.items()}
    if isinstance(features, (list, tuple)):
        return type(features)(_take(v, i) for v in features)
    return features[i:i + 1]


class SamFamilyPredictor(PromptableSegmenter):
    """Adapter from a SAM-like ``nn.Module`` (image_encoder, prompt_encoder, mask_decoder, pixel_mean,
    pixel_std) to the contract. Subclasses override ``encode`` (image -> features) and ``decode``
    (features + prompt embeddings -> low-res logits, scores, optional low-res uncertainty)."""

    mask_threshold: float = 0.0

    def __init__(self, model, device: str = "cpu", dtype="float32"):
        self.torch = require_torch()
        self.device = self.torch.device(resolve_device(device))
        self.dtype = resolve_dtype(dtype)
        # weights stay float32; reduced precision runs under autocast, because SAM's prompt encoder casts
        # coordinates to float32 and would clash with half-precision weights
        self.model = model.eval().to(device=self.device)
        self.img_size = int(model.image_encoder.img_size)
        self._features: Optional[dict] = None
        self._original_hw: tuple[int, int] = (0, 0)

    # family hooks -------------------------------------------------------------------------------
    def encode(self, x):
        """Image features from the padded, normalised (1, 3, S, S) input."""
        return {"embeddings": self.model.image_encoder(x)}

    def embed_prompts(self, points, boxes, masks):
        """(sparse, dense) prompt embeddings; SUM adds its task prompt here."""
        return self.model.prompt_encoder(points=points, boxes=boxes, masks=masks)

    def decode(self, features: dict, sparse, dense, multimask: bool):
        """(low-res logits (B, K, h, w), scores (B, K), low-res uncertainty (B, K, h, w) or None)."""
        logits, scores = self.model.mask_decoder(
            image_embeddings=features["embeddings"], image_pe=self.model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=multimask)
        return logits, scores, None

    # contract ------------------------------------------------------------------------------------
    def _prepare(self, image: np.ndarray):
        """(padded normalised (1, 3, S, S) tensor, original (h, w), resized (h, w))."""
        torch = self.torch
        image = check_image(image, self.name)
        resized = resize_longest(image, self.img_size)
        x = torch.as_tensor(resized, device=self.device).permute(2, 0, 1)[None].float()
        x = (x - self.model.pixel_mean.float()) / self.model.pixel_std.float()
        h, w = x.shape[-2:]
        x = torch.nn.functional.pad(x, (0, self.img_size - w, 0, self.img_size - h))
        return x, image.shape[:2], (int(h), int(w))

    def set_image(self, image: np.ndarray) -> None:
        x, self._original_hw, self._input_hw = self._prepare(image)
        with self.torch.inference_mode(), self._autocast():
            self._features = self.encode(x)

    def set_images(self, images) -> None:
        """One batched forward of the image encoder for all ``images``."""
        prepared = [self._prepare(im) for im in images]
        with self.torch.inference_mode(), self._autocast():
            features = self.encode(self.torch.cat([p[0] for p in prepared]))
        self._batch = (features, [(p[1], p[2]) for p in prepared])

    def select_image(self, index: int) -> None:
        features, sizes = self._batch
        self._features = _take(features, index)
        self._original_hw, self._input_hw = sizes[index]

    def predict(self, prompts: Prompts, multimask: bool = False) -> Prediction:
        torch = self.torch
        if self._features is None:
            raise RuntimeError(f"{self.name}: call set_image() before predict()")
        n = len(prompts)
        points = boxes = masks = None
        if prompts.points is not None:
            if prompts.point_labels is None:
                raise ValueError(f"{self.name}: points given without point_labels")
            pts = scale_coords(prompts.points, self._original_hw, self.img_size)
            points = (self._tensor(pts), torch.as_tensor(np.asarray(prompts.point_labels), device=self.device,
                                                         dtype=torch.int))
        if prompts.boxes is not None:
            bx = scale_coords(np.asarray(prompts.boxes).reshape(n, 2, 2), self._original_hw, self.img_size)
            boxes = self._tensor(bx.reshape(n, 4))
        if prompts.mask_inputs is not None:
            masks = self._tensor(check_mask_inputs(prompts.mask_inputs,
                                                   (n, 1, *self.model.prompt_encoder.mask_input_size), self.name))
        with torch.inference_mode(), self._autocast():
            sparse, dense = self.embed_prompts(points, boxes, masks)
            logits, scores, unc = self.decode(self._features, sparse, dense, multimask)
            up = self.postprocess(logits)
            unc_up = None if unc is None else self.postprocess(unc).float().cpu().numpy()
        return Prediction(masks=(up > self.mask_threshold).cpu().numpy(),
                          scores=scores.float().cpu().numpy().astype(np.float32),
                          logits=logits.float().cpu().numpy().astype(np.float32),
                          uncertainty=unc_up)

    # helpers -------------------------------------------------------------------------------------
    def _autocast(self):
        return self.torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != self.torch.float32)

    def _tensor(self, a) -> "object":
        return self.torch.as_tensor(np.asarray(a, dtype=np.float32), device=self.device)

    def postprocess(self, low_res):
        """Low-res maps -> padded model input size -> crop the padding -> original image size (bilinear)."""
        f = self.torch.nn.functional
        x = f.interpolate(low_res.float(), (self.img_size, self.img_size), mode="bilinear", align_corners=False)
        x = x[..., : self._input_hw[0], : self._input_hw[1]]
        return f.interpolate(x, self._original_hw, mode="bilinear", align_corners=False)


class IntermFeaturesPredictor(SamFamilyPredictor):
    """Families whose decoder also reads the first global-attention block's output (HQ-SAM, RobustSAM)."""

    def encode(self, x):
        emb, interm = self.model.image_encoder.forward_interm(x)
        return {"embeddings": emb, "interm": interm}
