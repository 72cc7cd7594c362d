"""SAM, then SUM's mask-refinement module on SAM's mask: the "SAM + mask-refinement module" row of the SUM
paper's Table 3 (App. D.3: the module "refines SAM predictions via mask-prompt segmentation", there SAM
predictions "generated using a one-box prompt").

What the module receives is what it was trained on (§3.2.3, App. D.2, ``robustseg train sum-refine``):
SAM's low-res logits as mask prompt, "a box prompt encompassing the pseudo label mask" and "the point prompt
used to generate the pseudo labels" (here: the points of the prompt, if any; Table 3's box prompt has none).
SAM's box is not passed on: the module's box is the one around SAM's mask. Each of SAM's outputs (three
for a single prompt) is refined on its own, so the evaluation protocol's choice among outputs (the one
closest to the ground truth, as for SAM) is made after refinement; the scores are the module's IoU head.

One checkpoint string, two files (``--checkpoint REFINE,SAM``): the ``sum_refine`` run's weights (the
module: SAM's prompt encoder and mask decoder fine-tuned) and the SAM weights that run started from. The
module keeps the initial image encoder (App. D.1: "the encoder is the same as the one in SAM"), which is
checked, so one image encoding serves both."""
from __future__ import annotations

from functools import partial
from typing import Optional

import torch

from ..checkpoints import CheckpointError
from ..registry import register_model, split_checkpoint
from .predictor import SamFamilyPredictor
from .sam import SAM, SAM_FILES
from .sum import SUM
from .sum_training import box_of

REFINE_FILE = "sum_refine_{variant}.safetensors of robustseg train sum-refine"


class SamThenRefine(SamFamilyPredictor):
    """SAM's prediction, each output refined by the module's prompt encoder and mask decoder."""

    def __init__(self, model, refiner, device: str = "cpu", dtype="float32"):
        super().__init__(model, device=device, dtype=dtype)
        self.refine_prompt = refiner.prompt_encoder.eval().to(self.device)
        self.refine_decoder = refiner.mask_decoder.eval().to(self.device)
        self._points = None

    def embed_prompts(self, points, boxes, masks):
        self._points = points  # the refinement module also gets the prompt's points (App. D.2)
        return super().embed_prompts(points, boxes, masks)

    def decode(self, features: dict, sparse, dense, multimask: bool):
        logits, _, _ = super().decode(features, sparse, dense, multimask)
        big = torch.nn.functional.interpolate(logits.float(), (self.img_size, self.img_size), mode="bilinear",
                                              align_corners=False) > 0  # the model-input frame of the prompts
        refined = torch.empty_like(logits)
        scores = torch.empty(logits.shape[:2], dtype=logits.dtype, device=logits.device)
        for b, k in ((b, k) for b in range(logits.shape[0]) for k in range(logits.shape[1])):
            pts = None if self._points is None else (self._points[0][b:b + 1], self._points[1][b:b + 1])
            box = box_of(big[b, k])[None].to(logits.device) if bool(big[b, k].any()) else None
            sp, de = self.refine_prompt(pts, box, logits[b:b + 1, k:k + 1])
            out, iou = self.refine_decoder(image_embeddings=features["embeddings"],
                                           image_pe=self.refine_prompt.get_dense_pe(),
                                           sparse_prompt_embeddings=sp, dense_prompt_embeddings=de,
                                           multimask_output=False)
            refined[b, k], scores[b, k] = out[0, 0], iou[0, 0]
        return refined, scores, None


def make_sam_then_refine(variant: str, checkpoint: Optional[str] = None, device: str = "cpu", dtype="float32",
                         config: Optional[str] = None) -> SamThenRefine:
    """SAM ``variant`` and the ``sum_refine`` module, each at a seeded random init, then loaded strictly
    from its file when ``checkpoint`` ("REFINE,SAM") is given."""
    name = f"sum_refined_sam_{variant}"
    files = (REFINE_FILE.format(variant=variant), SAM_FILES[variant][0])
    refine_path, sam_path = (None, None) if checkpoint is None else split_checkpoint(name, files, checkpoint)
    sam = SAM.make(variant, sam_path, device="cpu", config=config)
    refiner = SUM.make(variant, refine_path, device="cpu", config=config)
    if checkpoint is not None:
        a, b = sam.model.image_encoder.state_dict(), refiner.model.image_encoder.state_dict()
        changed = sorted(k for k in a if not torch.equal(a[k], b[k]))
        if changed:
            raise CheckpointError(f"{refine_path}: the refinement module's image encoder differs from {sam_path} "
                                  f"(image_encoder.{changed[0]}, ...): give the SAM weights its sum-refine run "
                                  "started from (--init-checkpoint)")
    model = SamThenRefine(sam.model, refiner.model, device=device, dtype=dtype)
    model.checkpoint_sha256 = f"{refiner.checkpoint_sha256},{sam.checkpoint_sha256}" if checkpoint else ""
    return model


for _v in SAM_FILES:
    register_model(f"sum_refined_sam_{_v}", checkpoint_files=(REFINE_FILE.format(variant=_v), SAM_FILES[_v][0]),
                   public_weights=False, requires=("torch", "segment_anything"), tags=("sam", "sum"),
                   test_kwargs={"config": "tiny"},
                   description=f"SAM {_v.upper().replace('_', '-')}, then SUM's mask-refinement module on each "
                               "output (SUM Table 3)",
                   verified="SAM part: the registered sam model; the module: a sum_refine run's prompt encoder "
                            "and mask decoder, given SAM's logits, the box around SAM's mask and the prompt's "
                            "points as in training (SUM App. D.2); no weights published")(
        partial(make_sam_then_refine, _v))
