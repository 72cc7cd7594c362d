"""SAM ViT sizes (as in segment_anything.build_sam) plus a tiny random-init size for tests, and the
builder that assembles official modules into a ``Sam`` with a chosen mask decoder."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import partial

from ..contract import ModelArgumentError
from ._compat import require_torch, sam_modeling


@dataclass(frozen=True)
class VitConfig:
    """Image encoder and decoder sizes; field values of the full sizes are the official ones."""

    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]
    img_size: int = 1024
    patch_size: int = 16
    window_size: int = 14
    prompt_dim: int = 256
    decoder_mlp_dim: int = 2048
    decoder_heads: int = 8
    iou_hidden_dim: int = 256
    mask_in_chans: int = 16

    @property
    def embedding_size(self) -> int:
        return self.img_size // self.patch_size


CONFIGS = {
    "vit_b": VitConfig(768, 12, 12, (2, 5, 8, 11)),
    "vit_l": VitConfig(1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": VitConfig(1280, 32, 16, (7, 15, 23, 31)),
    # tests only: every code path of the full model at a size that runs in milliseconds on a CPU
    "tiny": VitConfig(32, 2, 2, (1,), img_size=128, window_size=4, prompt_dim=64, decoder_mlp_dim=128,
                      decoder_heads=2, iou_hidden_dim=64),
}


def get_config(variant: str, config: str | None) -> VitConfig:
    """``config=None`` gives the variant's official size; ``"tiny"`` the test size."""
    key = variant if config in (None, "full") else config
    if key not in CONFIGS:
        raise ModelArgumentError(f"unknown SAM config {key!r}; valid: full, {', '.join(CONFIGS)}")
    return CONFIGS[key]


@contextlib.contextmanager
def seeded_init(seed: int = 0):
    """Random init from a fixed seed without touching the caller's global torch RNG state, so a
    random-weight model is the same in every run (torch modules draw their init from the global RNG)."""
    torch = require_torch()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def init_model(build, checkpoint=None, **load_kwargs):
    """``(module, sha256)``: ``build()`` under the seeded random init, then ``checkpoint``'s weights
    when one is given (``load_kwargs`` go to ``load_checkpoint``); sha256 is '' for random weights."""
    from ..checkpoints import load_checkpoint

    with seeded_init():
        model = build()
    return model, (load_checkpoint(model, checkpoint, **load_kwargs) if checkpoint is not None else "")


def _interm_encoder_class():
    """ImageEncoderViT that also returns the output of the first global-attention block, which HQ-SAM
    and RobustSAM feed to their decoders (same parameters and keys as the official encoder)."""
    m = sam_modeling()

    class ImageEncoderWithInterm(m.ImageEncoderViT):
        def forward_interm(self, x):
            x = self.patch_embed(x)
            if self.pos_embed is not None:
                x = x + self.pos_embed
            first_global = None
            for blk in self.blocks:
                x = blk(x)
                if blk.window_size == 0 and first_global is None:
                    first_global = x
            return self.neck(x.permute(0, 3, 1, 2)), first_global

    return ImageEncoderWithInterm


def build_image_encoder(cfg: VitConfig):
    torch = require_torch()
    return _interm_encoder_class()(
        depth=cfg.depth, embed_dim=cfg.embed_dim, img_size=cfg.img_size, mlp_ratio=4,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=cfg.num_heads, patch_size=cfg.patch_size,
        qkv_bias=True, use_rel_pos=True, global_attn_indexes=cfg.global_attn_indexes,
        window_size=cfg.window_size, out_chans=cfg.prompt_dim)


def build_sam(cfg: VitConfig, decoder_cls=None, **decoder_kwargs):
    """An official ``Sam`` of the given size; ``decoder_cls`` replaces the official MaskDecoder."""
    m = sam_modeling()
    decoder_cls = decoder_cls or m.MaskDecoder
    e = cfg.embedding_size
    return m.Sam(
        image_encoder=build_image_encoder(cfg),
        prompt_encoder=m.PromptEncoder(embed_dim=cfg.prompt_dim, image_embedding_size=(e, e),
                                       input_image_size=(cfg.img_size, cfg.img_size),
                                       mask_in_chans=cfg.mask_in_chans),
        mask_decoder=decoder_cls(
            num_multimask_outputs=3,
            transformer=m.TwoWayTransformer(depth=2, embedding_dim=cfg.prompt_dim, mlp_dim=cfg.decoder_mlp_dim,
                                            num_heads=cfg.decoder_heads),
            transformer_dim=cfg.prompt_dim, iou_head_depth=3, iou_head_hidden_dim=cfg.iou_hidden_dim,
            **decoder_kwargs),
        pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375])
