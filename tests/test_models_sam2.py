"""SAM 2.1: full-size models built on the meta device have exactly the official key -> shape lists
(../shared/reference/state_dicts/sam2_1_hiera_*.json, from sam2==1.1.0); a state dict with exactly those
keys loads strictly; and, when the official ``sam2`` package is importable, our predictor equals the official
modules driven as ``SAM2ImagePredictor._predict`` drives them, on the same random weights.

``sam2`` is not a dependency (its install needs ``--no-build-isolation``); to run the comparison:
``SAM2_BUILD_CUDA=0 pip install --no-build-isolation --no-deps sam2==1.1.0 hydra-core iopath``."""
import importlib.util

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines.check import check_image  # noqa: E402
from baselines.checkpoints import CheckpointError, load_into  # noqa: E402
from baselines.contract import Prompts  # noqa: E402
from baselines.sam2 import models  # noqa: E402
from baselines.sam2.model import get_config  # noqa: E402

from .conftest import official_keys  # noqa: E402

VARIANTS = {"hiera_t": "sam2_1_hiera_t", "hiera_s": "sam2_1_hiera_s", "hiera_b+": "sam2_1_hiera_b_plus",
            "hiera_l": "sam2_1_hiera_l"}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_keys_and_shapes_equal_official(variant):
    want = official_keys(VARIANTS[variant])
    with torch.device("meta"):
        model = models.build_torch_model(variant)
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert sorted(set(got) - set(want)) == [] and sorted(set(want) - set(got)) == []
    assert {k: s for k, s in got.items() if want[k] != s} == {}
    load_into(model, {k: torch.empty(s, device="meta") for k, s in want.items()}, where=f"{VARIANTS[variant]}.json")


def test_checkpoint_in_model_key_roundtrip_and_errors(tmp_path):
    """SAM 2 checkpoints keep the weights under "model"; a wrong tensor is named in the error."""
    src = models.make_sam2("hiera_b+", config="tiny")
    with torch.no_grad():
        for p in src.model.parameters():
            p.add_(0.01)
    torch.save({"model": src.model.state_dict()}, tmp_path / "sam2.pt")
    loaded = models.make_sam2("hiera_b+", config="tiny", checkpoint=str(tmp_path / "sam2.pt"))
    img = check_image()
    p = Prompts(boxes=np.array([[5, 5, 40, 30]], np.float32))
    outs = []
    for m in (src, loaded, models.make_sam2("hiera_b+", config="tiny")):
        m.set_image(img)
        outs.append(m.predict(p, multimask=True).logits)
    assert np.array_equal(outs[0], outs[1]) and not np.allclose(outs[0], outs[2])
    sd = dict(src.model.state_dict())
    sd.pop("no_mem_embed")
    torch.save({"model": sd}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"bad\.pt.*no_mem_embed"):
        models.make_sam2("hiera_b+", config="tiny", checkpoint=str(tmp_path / "bad.pt"))


def test_single_mask_falls_back_to_best_candidate_when_unstable():
    """SAM 2's dynamic multimask: token 0 when its mask is stable, else the best-scoring multimask token."""
    dec = models.build_torch_model("hiera_b+", "tiny").sam_mask_decoder
    logits = torch.zeros(2, 4, 8, 8)
    logits[0, 0] = 5.0  # stable: every pixel far from 0
    logits[1, 0] = torch.linspace(-1, 1, 64).reshape(8, 8)  # unstable: many pixels within +-0.05
    logits[1, 2] = 7.0
    scores = torch.tensor([[0.1, 0.9, 0.2, 0.3], [0.1, 0.2, 0.8, 0.3]])
    out, sc, _ = dec.select(logits, scores, None, multimask=False)
    assert torch.equal(out[0, 0], logits[0, 0]) and torch.equal(out[1, 0], logits[1, 2])
    assert sc[:, 0].tolist() == pytest.approx([0.1, 0.8])


def _official_model(cfg):
    """The official SAM2Base with the sizes of ``cfg`` (hydra configs are 1024 px only)."""
    from sam2.modeling.backbones.hieradet import Hiera
    from sam2.modeling.backbones.image_encoder import FpnNeck, ImageEncoder
    from sam2.modeling.memory_attention import MemoryAttention, MemoryAttentionLayer
    from sam2.modeling.memory_encoder import CXBlock, Fuser, MaskDownSampler, MemoryEncoder
    from sam2.modeling.position_encoding import PositionEmbeddingSine
    from sam2.modeling.sam2_base import SAM2Base
    from sam2.modeling.sam.transformer import RoPEAttention

    e = cfg.embedding_size
    trunk = Hiera(embed_dim=cfg.embed_dim, num_heads=cfg.num_heads, stages=cfg.stages,
                  global_att_blocks=cfg.global_att_blocks, window_pos_embed_bkg_spatial_size=cfg.window_pos_embed_bkg,
                  window_spec=cfg.window_spec)
    neck = FpnNeck(PositionEmbeddingSine(256, normalize=True, temperature=10000), d_model=256,
                   backbone_channel_list=cfg.channel_list, fpn_top_down_levels=[2, 3], fpn_interp_model="nearest")
    layer = MemoryAttentionLayer(
        activation="relu", dim_feedforward=2048, dropout=0.1, pos_enc_at_attn=False, d_model=256,
        pos_enc_at_cross_attn_keys=True, pos_enc_at_cross_attn_queries=False,
        self_attention=RoPEAttention(rope_theta=10000.0, feat_sizes=[e, e], embedding_dim=256, num_heads=1,
                                     downsample_rate=1, dropout=0.1),
        cross_attention=RoPEAttention(rope_theta=10000.0, feat_sizes=[e, e], rope_k_repeat=True, embedding_dim=256,
                                      num_heads=1, downsample_rate=1, dropout=0.1, kv_in_dim=64))
    mem_enc = MemoryEncoder(out_dim=64, mask_downsampler=MaskDownSampler(kernel_size=3, stride=2, padding=1),
                            fuser=Fuser(CXBlock(dim=256, kernel_size=7, padding=3, layer_scale_init_value=1e-6,
                                                use_dwconv=True), num_layers=2),
                            position_encoding=PositionEmbeddingSine(64, normalize=True, temperature=10000))
    return SAM2Base(
        image_encoder=ImageEncoder(trunk, neck, scalp=1),
        memory_attention=MemoryAttention(d_model=256, pos_enc_at_input=True, layer=layer, num_layers=cfg.memory_layers),
        memory_encoder=mem_enc, num_maskmem=7, image_size=cfg.image_size, sigmoid_scale_for_mem_enc=20.0,
        sigmoid_bias_for_mem_enc=-10.0, use_mask_input_as_output_without_sam=True, directly_add_no_mem_embed=True,
        no_obj_embed_spatial=True, use_high_res_features_in_sam=True, multimask_output_in_sam=True,
        iou_prediction_use_sigmoid=True, use_obj_ptrs_in_encoder=True, add_tpos_enc_to_obj_ptrs=True,
        proj_tpos_enc_in_obj_ptrs=True, use_signed_tpos_enc_to_obj_ptrs=True, only_obj_ptrs_in_the_past_for_eval=True,
        pred_obj_scores=True, pred_obj_scores_mlp=True, fixed_no_obj_ptr=True, multimask_output_for_tracking=True,
        use_multimask_token_for_obj_ptr=True, multimask_min_pt_num=0, multimask_max_pt_num=1,
        use_mlp_for_obj_ptr_proj=True,
        sam_mask_decoder_extra_args={"dynamic_multimask_via_stability": True, "dynamic_multimask_stability_delta": 0.05,
                                     "dynamic_multimask_stability_thresh": 0.98}).eval()


def official_predict(official, x, hw, prompts: Prompts, multimask: bool, size: int):
    """``SAM2ImagePredictor.set_image`` + ``_predict`` step by step on official modules (the predictor
    module itself imports torchvision, which cannot be imported here)."""
    with torch.no_grad():
        backbone_out = official.forward_image(x)
        _, feats, _, sizes = official._prepare_backbone_features(backbone_out)
        feats[-1] = feats[-1] + official.no_mem_embed
        feats = [f.permute(1, 2, 0).view(1, -1, *s) for f, s in zip(feats, sizes)]
        h, w = hw
        scale = torch.tensor([size / w, size / h])
        n = len(prompts)
        coords, labels = [], []
        if prompts.boxes is not None:
            coords.append(torch.as_tensor(prompts.boxes).reshape(n, 2, 2) * scale)
            labels.append(torch.tensor([[2, 3]], dtype=torch.int).repeat(n, 1))
        if prompts.points is not None:
            coords.append(torch.as_tensor(prompts.points) * scale)
            labels.append(torch.as_tensor(prompts.point_labels, dtype=torch.int))
        mask_in = None if prompts.mask_inputs is None else torch.as_tensor(prompts.mask_inputs)
        sparse, dense = official.sam_prompt_encoder(points=(torch.cat(coords, 1), torch.cat(labels, 1)), boxes=None,
                                                    masks=mask_in)
        low, iou, _, _ = official.sam_mask_decoder(
            image_embeddings=feats[-1], image_pe=official.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=multimask,
            repeat_image=n > 1, high_res_features=feats[:-1])
        up = torch.nn.functional.interpolate(low, hw, mode="bilinear", align_corners=False)
        return up > 0, iou, low.clamp(-32, 32)


def _randomize(module, seed=0):
    """Non-trivial values everywhere (zero-initialised position embeddings would hide bugs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))


needs_sam2 = pytest.mark.skipif(importlib.util.find_spec("sam2") is None,
                                reason="official sam2 package not installed (optional; see module docstring)")


@needs_sam2
@pytest.mark.parametrize("hw", [(48, 64), (90, 40)])
@pytest.mark.parametrize("multimask", [False, True])
def test_sam2_equals_official(hw, multimask):
    ours = models.make_sam2("hiera_b+", config="tiny")
    _randomize(ours.model)
    cfg = get_config("hiera_b+", "tiny")
    official = _official_model(cfg)
    official.load_state_dict(ours.model.state_dict(), strict=True)
    h, w = hw
    image = check_image(h, w, seed=h)
    rng = np.random.default_rng(w)
    boxes = np.sort(rng.uniform(0, [w, h, w, h], (3, 4)).reshape(3, 2, 2), axis=1).reshape(3, 4).astype(np.float32)
    pts = rng.uniform(0, [w, h], (3, 2, 2)).astype(np.float32)
    labels = np.array([[1, 0], [1, 1], [0, 1]], np.int32)
    ours.set_image(image)
    x = ours.preprocess(image)
    batches = [Prompts(boxes=boxes), Prompts(points=pts, point_labels=labels),
               Prompts(boxes=boxes, points=pts, point_labels=labels), Prompts(boxes=boxes[:1])]
    prev = ours.predict(batches[1], multimask=False).logits
    batches.append(Prompts(points=pts, point_labels=labels, mask_inputs=prev))
    for p in batches:
        mine = ours.predict(p, multimask=multimask)
        masks, iou, low = official_predict(official, x, hw, p, multimask, cfg.image_size)
        assert mine.logits.shape == tuple(low.shape)
        np.testing.assert_allclose(mine.logits, low.numpy(), atol=1e-4, rtol=1e-4)
        np.testing.assert_allclose(mine.scores, iou.numpy(), atol=1e-5)
        assert (mine.masks != masks.numpy()).sum() <= 2  # pixels exactly at the 0 threshold may flip
