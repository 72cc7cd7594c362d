"""SegFormer: parameter names and shapes against a key list derived here, independently of the model code,
from the official definitions (NVlabs/SegFormer ``mix_transformer.py`` ``mit_b0``..``mit_b5`` and
``SegFormerHead`` over mmseg 0.x ``BaseDecodeHead``); strict loading of a local checkpoint; the contract."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines import ModelArgumentError, create_model  # noqa: E402
from baselines.registry import check_model_arguments  # noqa: E402
from baselines.checkpoints import CheckpointError  # noqa: E402
from baselines.semantic import validate_semantic_prediction  # noqa: E402
from baselines.segformer.model import build_network  # noqa: E402

# (embed dims, depths, decoder embed dim) of the official mit_b* classes and configs
OFFICIAL = {"b0": ((32, 64, 160, 256), (2, 2, 2, 2), 256), "b1": ((64, 128, 320, 512), (2, 2, 2, 2), 256),
            "b2": ((64, 128, 320, 512), (3, 4, 6, 3), 768), "b3": ((64, 128, 320, 512), (3, 4, 18, 3), 768),
            "b4": ((64, 128, 320, 512), (3, 8, 27, 3), 768), "b5": ((64, 128, 320, 512), (3, 6, 40, 3), 768)}


def official_keys(size: str, num_classes: int = 19) -> dict:
    dims, depths, e = OFFICIAL[size]
    keys, cin = {}, 3
    for s, (d, n, sr, k) in enumerate(zip(dims, depths, (8, 4, 2, 1), (7, 3, 3, 3)), start=1):
        p = f"backbone.patch_embed{s}"
        keys |= {f"{p}.proj.weight": (d, cin, k, k), f"{p}.proj.bias": (d,), f"{p}.norm.weight": (d,),
                 f"{p}.norm.bias": (d,)}
        for j in range(n):
            b = f"backbone.block{s}.{j}"
            for name, shape in [("norm1", (d,)), ("norm2", (d,))]:
                keys |= {f"{b}.{name}.weight": shape, f"{b}.{name}.bias": shape}
            keys |= {f"{b}.attn.q.weight": (d, d), f"{b}.attn.q.bias": (d,), f"{b}.attn.kv.weight": (2 * d, d),
                     f"{b}.attn.kv.bias": (2 * d,), f"{b}.attn.proj.weight": (d, d), f"{b}.attn.proj.bias": (d,),
                     f"{b}.mlp.fc1.weight": (4 * d, d), f"{b}.mlp.fc1.bias": (4 * d,),
                     f"{b}.mlp.dwconv.dwconv.weight": (4 * d, 1, 3, 3), f"{b}.mlp.dwconv.dwconv.bias": (4 * d,),
                     f"{b}.mlp.fc2.weight": (d, 4 * d), f"{b}.mlp.fc2.bias": (d,)}
            if sr > 1:
                keys |= {f"{b}.attn.sr.weight": (d, d, sr, sr), f"{b}.attn.sr.bias": (d,),
                         f"{b}.attn.norm.weight": (d,), f"{b}.attn.norm.bias": (d,)}
        keys |= {f"backbone.norm{s}.weight": (d,), f"backbone.norm{s}.bias": (d,)}
        keys |= {f"decode_head.linear_c{s}.proj.weight": (e, d), f"decode_head.linear_c{s}.proj.bias": (e,)}
        cin = d
    keys |= {"decode_head.linear_fuse.conv.weight": (e, 4 * e, 1, 1), "decode_head.linear_fuse.bn.weight": (e,),
             "decode_head.linear_fuse.bn.bias": (e,), "decode_head.linear_fuse.bn.running_mean": (e,),
             "decode_head.linear_fuse.bn.running_var": (e,), "decode_head.linear_fuse.bn.num_batches_tracked": (),
             "decode_head.linear_pred.weight": (num_classes, e, 1, 1), "decode_head.linear_pred.bias": (num_classes,),
             "decode_head.conv_seg.weight": (num_classes, 128, 1, 1), "decode_head.conv_seg.bias": (num_classes,)}
    return keys


@pytest.mark.parametrize("size", sorted(OFFICIAL))
def test_state_dict_matches_official_names_and_shapes(size):
    with torch.device("meta"):
        net = build_network(size, 19)
    got = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    want = official_keys(size)
    assert sorted(set(got) ^ set(want)) == []
    assert {k: s for k, s in got.items() if want[k] != s} == {}


def test_local_checkpoint_loads_strictly(tmp_path):
    a = create_model("segformer-b0", config="tiny")
    sd = {k: v + 0.01 * torch.randn_like(v.float()).to(v.dtype) if v.is_floating_point() else v
          for k, v in a.net.state_dict().items()}
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": sd, "meta": {"note": "mmseg wraps weights like this"}}, path)
    b = create_model("segformer-b0", config="tiny", checkpoint=str(path))
    assert b.name == "segformer-b0" and len(b.checkpoint_sha256) == 64
    for k, v in b.net.state_dict().items():
        assert torch.equal(v, sd[k]), k
    del sd["decode_head.conv_seg.bias"]
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match="missing keys: decode_head.conv_seg.bias"):
        create_model("segformer-b0", config="tiny", checkpoint=str(path))


def test_random_weights_through_the_instance_tracks_mechanism():
    """One refusal path for both tracks (``check_model_arguments``); a model built without a checkpoint is
    marked ``random_weights`` and keeps its registry name (the label is added where results are shown)."""
    with pytest.raises(ModelArgumentError, match="--random-weights"):
        check_model_arguments("ecocseg-segformer-b0", options={"config": "tiny"})
    m = create_model("segformer-b0", config="tiny")
    assert m.random_weights and m.name == "segformer-b0"
    with pytest.raises(ModelArgumentError, match="takes no option random_weights"):  # no model-level switch
        create_model("segformer-b0", config="tiny", random_weights=True)


@pytest.mark.parametrize("name", ["segformer-b0", "ecocseg-segformer-b0"])
def test_semantic_contract(name):
    kw = {"codebook_trials": 64} if name.startswith("ecoc") else {}
    m = create_model(name, config="tiny", **kw)
    img = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    p = m.predict(img)
    validate_semantic_prediction(p, 19, 37, 53)
    assert p.labels.shape == (37, 53) and p.labels.max() < 19
    np.testing.assert_array_equal(m.predict(img).scores, p.scores)  # deterministic


@pytest.mark.parametrize("name", ["segformer-b0", "ecocseg-segformer-b0"])
def test_check_model_runs_the_semantic_checks(name):
    from baselines.check import check_model, format_report

    results = check_model(name)
    assert all(r.passed for r in results), format_report(results)
    assert {"classes", "output[37x53]", "determinism"} <= {r.name for r in results}
