"""SUM in HQ-SAM's architecture (Liu et al., NeurIPS 2024, §4.2 Fig. 4 / App. G.3; Kangningthu/SUM @ 2a1d378
``sum_on_hq-sam/train/train_uncertainty_aware.py``): HQ-SAM's decoder additions (HQ output token, its MLP,
the global-local fusion and compression layers) and SUM's task tokens trained with SUM's uncertainty-aware
fine-tuning, SAM frozen. At inference it is HQ-SAM (HQ token only, K = 1) with the task tokens added.

The training forwards are SUM's (``SumSam``), with two hooks: image features carry HQ-SAM's early ViT
features beside the embedding, and the model being trained decodes through its HQ token
(``MaskDecoderHQ.forward_hq``). The frozen helpers decode as SAM: the initial weights (whose decoder is
SAM's, the HQ parts unused) make the pseudo-labels, and the mask-refinement module is a ``sum-refine`` run on
full SAM (the HQ-SAM-arch code reads the uncertainty maps that module made on SA-1B).

SUM's task prompt is the HQ-SAM-arch code's (``--use_task_prompt_token``, l.174-200 and l.297): learned vectors
added to SAM's four mask tokens (``task_prompt_tokens``) and to the HQ token (``hf_type_tokens``), indexed by
the code's ``mask_type`` (0 SAM pseudo-labels, 1 HQSeg-44K, 2 entity data). The mask-token vector of type 0
stays zero (``zero_token_no_grad``) and is not stored; the HQ-token vector of type 0 trains, as in the code.
Zero-initialised, so an untrained model (and a Vanilla run, which adds none) is HQ-SAM."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..contract import ModelArgumentError
from ..family import ModelFamily, register_family
from .configs import build_sam, get_config
from .hq_sam import HQSamAdapter, MaskDecoderHQ
from .sum import build_torch_model as build_sum
from .sum_training import SumSam

VARIANTS = ("vit_b", "vit_l", "vit_h")


@dataclass
class HQFeatures:
    """The image embedding and the first global block's output, sliced together per image."""

    emb: torch.Tensor
    interm: torch.Tensor

    def __getitem__(self, index) -> HQFeatures:
        return HQFeatures(self.emb[index], self.interm[index])


TASKS = {"none": None, "unlabelled": 0, "salient": 1, "entity": 2}  # adapter option -> the code's mask_type


class MaskDecoderSumHQ(MaskDecoderHQ):
    """HQ-SAM's decoder plus SUM's task tokens (mask-token vectors for types 1-2, HQ-token vectors 0-2)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        d = self.transformer_dim
        self.task_prompt_tokens = nn.ModuleDict({str(t): nn.Embedding(self.num_mask_tokens, d) for t in (1, 2)})
        self.hf_type_tokens = nn.ModuleList(nn.Embedding(1, d) for _ in range(3))
        for emb in (*self.task_prompt_tokens.values(), *self.hf_type_tokens):
            nn.init.zeros_(emb.weight)

    def output_tokens(self, task: int | None = None) -> torch.Tensor:
        if task is None:  # no task prompt: HQ-SAM's tokens
            return super().output_tokens()
        if task not in (0, 1, 2):
            raise ValueError(f"SUM-HQ task token {task!r}; valid: 0, 1, 2")
        mask = self.mask_tokens.weight + (self.task_prompt_tokens[str(task)].weight if task else 0)
        return torch.cat([self.iou_token.weight, mask, self.hf_token.weight + self.hf_type_tokens[task].weight])


class SumHQSam(SumSam):
    """HQ-SAM with SUM's training forwards; the HQ token is the trained model's (single) output."""

    build_args: tuple = ("vit_h", None)  # (variant, config) it was built with: the refinement module's size
    _task: int | None = None  # the task token of the trained model's next decode (set by ``_embed``)

    def _features(self, owner, x: torch.Tensor) -> HQFeatures:
        return HQFeatures(*owner.image_encoder.forward_interm(x))

    def _decode(self, owner, emb: HQFeatures, sparse, dense, multimask: bool):
        if owner is not self:  # the frozen initial SAM or the refinement module: SAM's decoder
            return super()._decode(owner, emb.emb, sparse, dense, multimask)
        return owner.mask_decoder.forward_hq(emb.emb, emb.interm, owner.prompt_encoder.get_dense_pe(), sparse,
                                             dense, multimask, task=self._task)

    def _embed(self, encoder, points, labels, box, mask_in, task: int, size: int):
        """Prompt embeddings without a dense task prompt: the task goes to the output tokens of the trained
        model's decode that follows (None with task_prompt=none: HQ-SAM's tokens, as Vanilla)."""
        if encoder is self.prompt_encoder:
            self._task = None if self.sum_helpers.config.task_prompt == "none" else task
        return super()._embed(encoder, points, labels, box, mask_in, 0, size)

    def refiner_template(self) -> torch.nn.Module:
        """An untrained SUM model of this size: what a ``sum-refine`` run's weights load into."""
        return build_sum(*self.build_args)


def build_torch_model(variant: str, config: str | None = None):
    cfg = get_config(variant, config)
    model = build_sam(cfg, decoder_cls=MaskDecoderSumHQ, sam_cls=SumHQSam, vit_dim=cfg.embed_dim)
    model.build_args = (variant, config)
    return model


class SumHQAdapter(HQSamAdapter):
    """HQ-SAM's inference (HQ token only, K = 1) with SUM's task tokens of ``task`` (default ``unlabelled``,
    type 0: the prompt of SAM-pseudo-labelled data, as reproduce evaluates SUM with task prompt 0)."""

    def __init__(self, model, device: str = "cpu", dtype="float32", task: str = "unlabelled"):
        super().__init__(model, device=device, dtype=dtype)
        if task not in TASKS:
            raise ModelArgumentError(f"unknown SUM-HQ task {task!r}; valid: {', '.join(TASKS)}")
        self.task = TASKS[task]

    def decode(self, features, sparse, dense, multimask):
        logits, score = self.model.mask_decoder.forward_hq(
            features["embeddings"], features["interm"], self.model.prompt_encoder.get_dense_pe(), sparse, dense,
            multimask, task=self.task)
        return logits, score, None


SUM_HQ_SAM = register_family(
    ModelFamily("sum_hq_sam", build_torch_model, SumHQAdapter,
                files={v: f"sum_hq_sam_{v}.safetensors" for v in VARIANTS}),
    VARIANTS, description="SUM in HQ-SAM's architecture {label}: HQ-SAM + SUM's task tokens, trained by "
                          "`robustseg train sum-hq` (HQ output token only, K = 1; task= kwarg)",
    public_weights=False, tags=("sam", "hq_sam", "sum"),
    verified=("hq_sam's keys + mask_decoder.task_prompt_tokens.{1,2} [4, 256], hf_type_tokens.{0,1,2} [1, 256] "
              "(Kangningthu/SUM sum_on_hq-sam/train/train_uncertainty_aware.py, read, not run; its zero type-0 "
              "mask-token vector not stored); task=none equals hq_sam (tested); no weights published"))
