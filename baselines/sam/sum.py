"""SUM (Liu et al., NeurIPS 2024, Kangningthu/SUM @ 78b04dd): SAM fine-tuned with uncertainty-aware
training, plus a task prompt: a learned vector per task id (0 unspecified, 1 salient object, 2 entity,
3 part) added to the dense prompt embedding, in the first interactive round only. At inference SUM is
SAM's architecture with ``prompt_encoder.task_prompt_embedding.{0..3}`` added (zero-initialised, so an
untrained task prompt changes nothing). The SUM authors have not released weights."""
from __future__ import annotations

from torch import nn

from ..contract import ModelArgumentError
from ..family import ModelFamily, register_family
from .configs import build_sam, get_config, official
from .predictor import SamFamilyPredictor
from .sum_training import SumSam

TASKS = {"unspecified": 0, "salient": 1, "entity": 2, "part": 3}


class TaskPromptEncoder(official.PromptEncoder):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.task_prompt_embedding = nn.ModuleList(nn.Embedding(1, self.embed_dim) for _ in TASKS)
        for emb in self.task_prompt_embedding:
            nn.init.zeros_(emb.weight)

    def forward(self, points, boxes, masks, task_prompt: int = 0):
        sparse, dense = super().forward(points=points, boxes=boxes, masks=masks)
        return sparse, dense + self.task_prompt_embedding[task_prompt].weight.reshape(1, -1, 1, 1)


def build_torch_model(variant: str, config: str | None = None):
    model = build_sam(get_config(variant, config), sam_cls=SumSam)  # + SUM's training forwards
    old = model.prompt_encoder
    new = TaskPromptEncoder(embed_dim=old.embed_dim, image_embedding_size=old.image_embedding_size,
                            input_image_size=old.input_image_size,
                            mask_in_chans=old.mask_downscaling[0].out_channels * 4)
    new.load_state_dict(old.state_dict(), strict=False)  # keep the random PE draw; adds only task prompts
    model.prompt_encoder = new
    return model


TASK_ROUNDS = ("first", "all")


class SumAdapter(SamFamilyPredictor):
    """SAM outputs (K = 3 multimask / K = 1), with the task prompt on rounds without a mask input
    (``task_rounds="first"``, the paper's SUM) or on every round (``"all"``: the Table 2 ablation "SUM
    Continuous TP", task prompt 'in all rounds ... during training and inference')."""

    def __init__(self, model, device: str = "cpu", dtype="float32", task: str = "unspecified",
                 task_rounds: str = "first"):
        super().__init__(model, device=device, dtype=dtype)
        if task not in TASKS:
            raise ModelArgumentError(f"unknown SUM task {task!r}; valid: {', '.join(TASKS)}")
        if task_rounds not in TASK_ROUNDS:
            raise ModelArgumentError(f"unknown SUM task_rounds {task_rounds!r}; valid: {', '.join(TASK_ROUNDS)}")
        self.task, self.every_round = TASKS[task], task_rounds == "all"

    def embed_prompts(self, points, boxes, masks):
        task = self.task if masks is None or self.every_round else 0  # SUM: the first round only
        return self.model.prompt_encoder(points, boxes, masks, task_prompt=task)


VARIANTS = ("vit_b", "vit_l", "vit_h")
SUM = register_family(
    ModelFamily("sum", build_torch_model, SumAdapter, files={v: f"sum_{v}.pth" for v in VARIANTS}),
    VARIANTS, description="SUM {label}: SAM + task prompt (task=, task_rounds=first|all kwargs)", public_weights=False,
    tags=("sam", "sum"),
    verified=("keys = SAM official list + prompt_encoder.task_prompt_embedding.{0..3}.weight [1, 256] as in "
              "Kangningthu/SUM modeling/prompt_encoder.py (read, not run); no weights published"))
make_sum = SUM.make  # make_sum(variant, checkpoint=None, device=, dtype=, config=None, task=..., task_rounds=...)
