"""SUM in HQ-SAM's architecture (Liu et al., NeurIPS 2024, §4.2 Fig. 4 / App. G.3; Kangningthu/SUM @ 2a1d378
``sum_on_hq-sam/train/train_uncertainty_aware.py``): HQ-SAM's decoder additions (HQ output token, its MLP,
the global-local fusion and compression layers) trained with SUM's uncertainty-aware fine-tuning, SAM
frozen. At inference it is HQ-SAM: same keys, same ``HQSamAdapter`` (HQ token only, K = 1), so its weights
also load into ``hq_sam_*``.

The training forwards are SUM's (``SumSam``), with two hooks: image features carry HQ-SAM's early ViT
features beside the embedding, and the model being trained decodes through its HQ token
(``MaskDecoderHQ.forward_hq``). The frozen helpers decode as SAM: the initial weights (whose decoder is
SAM's, the HQ parts unused) make the pseudo-labels, and the mask-refinement module is a ``sum-refine`` run on
full SAM (the HQ-SAM-arch code reads the uncertainty maps that module made on SA-1B)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..family import ModelFamily, register_family
from .configs import build_sam, get_config
from .hq_sam import HQSamAdapter, MaskDecoderHQ
from .sum_training import SumSam

VARIANTS = ("vit_b", "vit_l", "vit_h")


@dataclass
class HQFeatures:
    """The image embedding and the first global block's output, sliced together per image."""

    emb: torch.Tensor
    interm: torch.Tensor

    def __getitem__(self, index) -> HQFeatures:
        return HQFeatures(self.emb[index], self.interm[index])


class SumHQSam(SumSam):
    """HQ-SAM with SUM's training forwards; the HQ token is the trained model's (single) output."""

    build_args: tuple = ("vit_h", None)  # (variant, config) it was built with: the refinement module's size

    def _features(self, owner, x: torch.Tensor) -> HQFeatures:
        return HQFeatures(*owner.image_encoder.forward_interm(x))

    def _decode(self, owner, emb: HQFeatures, sparse, dense, multimask: bool):
        if owner is not self:  # the frozen initial SAM or the refinement module: SAM's decoder
            return super()._decode(owner, emb.emb, sparse, dense, multimask)
        return owner.mask_decoder.forward_hq(emb.emb, emb.interm, owner.prompt_encoder.get_dense_pe(), sparse,
                                             dense, multimask)

    def _embed(self, encoder, points, labels, box, mask_in, task: int, size: int):
        if task:  # the recipe allows task_prompt=none only (docs/training.md#sum)
            raise RuntimeError("SUM on HQ-SAM's architecture has no task prompt here (train with task_prompt=none)")
        return super()._embed(encoder, points, labels, box, mask_in, 0, size)

    def refiner_template(self) -> torch.nn.Module:
        """An untrained SUM model of this size: what a ``sum-refine`` run's weights load into."""
        from .sum import build_torch_model as build_sum

        return build_sum(*self.build_args)


def build_torch_model(variant: str, config: str | None = None):
    cfg = get_config(variant, config)
    model = build_sam(cfg, decoder_cls=MaskDecoderHQ, sam_cls=SumHQSam, vit_dim=cfg.embed_dim)
    model.build_args = (variant, config)
    return model


SUM_HQ_SAM = register_family(
    ModelFamily("sum_hq_sam", build_torch_model, HQSamAdapter,
                files={v: f"sum_hq_sam_{v}.safetensors" for v in VARIANTS}),
    VARIANTS, description="SUM in HQ-SAM's architecture {label}: HQ-SAM trained by `robustseg train sum-hq` "
                          "(HQ output token only, K = 1)", public_weights=False, tags=("sam", "hq_sam", "sum"),
    verified=("keys and outputs = hq_sam (same MaskDecoderHQ and adapter); trained parts as Kangningthu/SUM "
              "sum_on_hq-sam/train/train_uncertainty_aware.py (read, not run); no weights published"))
