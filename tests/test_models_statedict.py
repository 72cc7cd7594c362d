"""Full-size models built on the meta device (no memory, no time) have exactly the official parameter
names and shapes (../shared/reference/state_dicts), a state dict with exactly those keys loads strictly,
and checkpoint files load safely with clear errors."""
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
try:
    from baselines.sam._compat import sam_modeling

    sam_modeling()
except ImportError as e:
    pytest.skip(f"segment-anything not installed: {e}", allow_module_level=True)

from baselines.checkpoints import CheckpointError, load_into, read_state_dict  # noqa: E402
from baselines.check import check_image  # noqa: E402
from baselines.contract import Prompts  # noqa: E402
from baselines.sam import gara_sam, hq_sam, robustsam, sam, sum as sum_mod  # noqa: E402

from .conftest import official_keys  # noqa: E402

OFFICIAL = [(sam, "sam", "vit_b"), (sam, "sam", "vit_l"), (sam, "sam", "vit_h"), (hq_sam, "hq_sam", "vit_b"),
            (robustsam, "robustsam", "vit_b"), (robustsam, "robustsam", "vit_l"), (robustsam, "robustsam", "vit_h")]


def meta_keys(module, variant: str) -> dict:
    with torch.device("meta"):
        model = module.build_torch_model(variant)
    return model, {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("module,prefix,variant", OFFICIAL, ids=[f"{p}_{v}" for _, p, v in OFFICIAL])
def test_keys_and_shapes_equal_official(module, prefix, variant):
    want = official_keys(f"{prefix}_{variant}")
    model, got = meta_keys(module, variant)
    assert sorted(set(got) - set(want)) == [] and sorted(set(want) - set(got)) == []
    assert {k: s for k, s in got.items() if want[k] != s} == {}
    # a state dict with exactly the official keys and shapes loads strictly
    load_into(model, {k: torch.empty(s, device="meta") for k, s in want.items()}, where=f"{prefix}_{variant}.json")


@pytest.mark.parametrize("variant,vit_dim", [("vit_l", 1024), ("vit_h", 1280)])
def test_hq_sam_large_keys_follow_vit_b_pattern(variant, vit_dim):
    """No official list for HQ-SAM L/H: SAM's list plus the 25 HQ tensors of vit_b, first deconv scaled."""
    sam_keys, hq_b = official_keys(f"sam_{variant}"), official_keys("hq_sam_vit_b")
    extra = {k: s for k, s in hq_b.items() if k not in official_keys("sam_vit_b")}
    extra["mask_decoder.compress_vit_feat.0.weight"] = (vit_dim, 256, 2, 2)
    _, got = meta_keys(hq_sam, variant)
    assert got == {**sam_keys, **extra}


def test_sum_and_gara_extend_sam():
    sam_keys = official_keys("sam_vit_b")
    _, got = meta_keys(sum_mod, "vit_b")
    assert got == {**sam_keys, **{f"prompt_encoder.task_prompt_embedding.{i}.weight": (1, 256) for i in range(4)}}
    _, got = meta_keys(gara_sam, "vit_b")
    assert {k: got[k] for k in sam_keys} == sam_keys
    new = set(got) - set(sam_keys)
    assert len(new) == 12 * 10 and got["image_encoder.blocks.0.attn.qkv.high_a"] == (256, 768)


def _tiny_model_and_file(tmp_path, fmt="pth", wrap=None, prefix=""):
    model = sam.make_sam("vit_b", config="tiny")
    with torch.no_grad():  # distinct weights from the default random init, so loading visibly matters
        for p in model.model.parameters():
            p.add_(0.01)
    sd = {prefix + k: v.clone() for k, v in model.model.state_dict().items()}
    if wrap:
        sd = {wrap: sd, "epoch": 3}
    path = tmp_path / f"ck.{fmt}"
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(sd, str(path))
    else:
        torch.save(sd, path)
    return model, path


def _out(m):
    m.set_image(check_image())
    return m.predict(Prompts(boxes=np.array([[5, 5, 40, 30]], np.float32)), multimask=True)


@pytest.mark.parametrize("fmt,wrap,prefix", [("pth", None, ""), ("pth", "model", ""), ("pth", "state_dict", "module."),
                                             ("safetensors", None, "")])
def test_checkpoint_roundtrip(tmp_path, fmt, wrap, prefix):
    src, path = _tiny_model_and_file(tmp_path, fmt, wrap, prefix)
    loaded = sam.make_sam("vit_b", config="tiny", checkpoint=str(path))
    a, b = _out(src), _out(loaded)
    assert np.array_equal(a.logits, b.logits) and np.array_equal(a.masks, b.masks)
    fresh = _out(sam.make_sam("vit_b", config="tiny"))
    assert not np.allclose(fresh.logits, a.logits)  # the checkpoint really replaced the random init
    assert len(loaded.checkpoint_sha256) == 64


def test_checkpoint_errors_name_the_problem(tmp_path):
    src, path = _tiny_model_and_file(tmp_path)
    sd = torch.load(path, weights_only=True)
    bad = dict(sd)
    bad.pop("mask_decoder.iou_token.weight")
    bad["extra.weight"] = torch.zeros(1)
    bad["image_encoder.pos_embed"] = torch.zeros(1, 2, 2, 32)
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError) as e:
        sam.make_sam("vit_b", config="tiny", checkpoint=str(tmp_path / "bad.pth"))
    msg = str(e.value)
    assert "bad.pth" in msg and "mask_decoder.iou_token.weight" in msg and "extra.weight" in msg
    assert "image_encoder.pos_embed (1, 2, 2, 32) != (1, 8, 8, 32)" in msg
    with pytest.raises(CheckpointError, match="not found"):
        read_state_dict(tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match="sha256 .* does not match"):
        read_state_dict(path, sha256="0" * 64)
    with pytest.raises(CheckpointError, match="md5"):
        read_state_dict(path, md5="ffffff")
    import hashlib

    read_state_dict(path, md5=hashlib.md5(path.read_bytes()).hexdigest()[:6])  # SAM-style prefix accepted


class _Evil:
    def __reduce__(self):
        return (print, ("pickle code ran",))


def test_pickle_with_code_is_refused(tmp_path):
    p = tmp_path / "evil.pth"
    with open(p, "wb") as f:
        pickle.dump({"x": _Evil()}, f)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        read_state_dict(p)


def test_gara_sam_untrained_equals_sam(tmp_path):
    """Zero-initialised B factors: GaRA-SAM with SAM's weights is SAM, whatever the gates decide."""
    src, path = _tiny_model_and_file(tmp_path)
    g = gara_sam.make_gara_sam("vit_b", config="tiny", sam_checkpoint=str(path))
    a, b = _out(src), _out(g)
    assert np.allclose(a.logits, b.logits, atol=1e-5)
    with torch.no_grad():  # a non-zero adapter changes the output
        for blk in g.model.image_encoder.blocks:
            blk.attn.qkv.low_b.normal_()
            blk.attn.qkv.high_b.normal_()
    assert not np.allclose(_out(g).logits, a.logits, atol=1e-3)


def test_sum_task_prompt_only_first_round(tmp_path):
    m = sum_mod.make_sum("vit_b", config="tiny", task="entity")
    base = _out(m)
    with torch.no_grad():
        m.model.prompt_encoder.task_prompt_embedding[2].weight.normal_()
    changed = _out(m)
    assert not np.allclose(base.logits, changed.logits)
    p = Prompts(boxes=np.array([[5, 5, 40, 30]], np.float32), mask_inputs=changed.logits[:, :1])
    m.task = 0
    second_plain = m.predict(p, multimask=True)
    m.task = 2
    second_task = m.predict(p, multimask=True)
    assert np.array_equal(second_plain.logits, second_task.logits)
