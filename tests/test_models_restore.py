"""Restoration-then-SAM baselines (AirNet+SAM, URIE+SAM): the restoration networks have the official
state-dict names and shapes (tests/data/restore_state_dicts, whose "source" says where each list comes
from), the deformable convolution equals mmcv's definition computed pixel by pixel, SAM segments exactly
the restored image, and the two checkpoint files load strictly, in order, through the safe loader."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
try:
    from baselines.sam._compat import sam_modeling

    sam_modeling()
except ImportError as e:
    pytest.skip(f"segment-anything not installed: {e}", allow_module_level=True)

from baselines import ModelArgumentError, Prompts, create_model  # noqa: E402
from baselines.checkpoints import CheckpointError, load_into  # noqa: E402
from baselines.check import check_image  # noqa: E402
from baselines.family import seeded_init  # noqa: E402
from baselines.registry import check_model_arguments  # noqa: E402
from baselines.restore.airnet import AirNet, build_airnet  # noqa: E402
from baselines.restore.deform import modulated_deform_conv2d  # noqa: E402
from baselines.restore.segment import URIE_FILE, make_airnet_sam  # noqa: E402
from baselines.restore.urie import SKUNet, build_urie  # noqa: E402
from baselines.sam.sam import make_sam  # noqa: E402

KEYS = Path(__file__).parent / "data" / "restore_state_dicts"
PROMPTS = Prompts(boxes=np.array([[10, 8, 40, 36]], np.float32), points=np.array([[[25.0, 20.0]]], np.float32),
                  point_labels=np.ones((1, 1), np.int32))


def official(name: str) -> dict:
    return {k: tuple(v) for k, v in json.loads((KEYS / f"{name}.json").read_text())["keys"].items()}


def shapes(module) -> dict:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize("build,name", [(build_airnet, "airnet_all"), (build_urie, "urie_skunet")])
def test_keys_and_shapes_equal_official(build, name):
    with torch.device("meta"):
        model = build()
    want = official(name)
    assert shapes(model) == want
    load_into(model, {k: torch.empty(s, device="meta") for k, s in want.items()}, where=f"{name}.json")


def test_airnet_task_sets_the_queue_of_its_released_file():
    queue = json.loads((KEYS / "airnet_all.json").read_text())["queue_len_by_file"]
    for task, file in (("denoise", "Denoise.pth"), ("derain", "Derain.pth"), ("dehaze", "Dehaze.pth")):
        with torch.device("meta"):
            got = shapes(build_airnet(task=task))
        assert got == {**official("airnet_all"), "E.E.queue": (256, queue[file])}
    with pytest.raises(ModelArgumentError, match="unknown AirNet task 'rain'; valid: all, denoise"):
        build_airnet(task="rain")


# -- deformable convolution -----------------------------------------------------------------------------

def dcn_per_pixel(x, offset, mask, weight, bias, stride, pad, dil):
    """mmcv's modulated_deform_conv2d, one output pixel and tap at a time (its im2col kernel's rules)."""
    x, offset, mask, weight = (t.double().numpy() for t in (x, offset, mask, weight))
    b, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    ho, wo = offset.shape[2:]

    def sample(img, py, px):
        if not (py > -1 and px > -1 and py < h and px < w):
            return np.zeros(c)
        y0, x0 = int(np.floor(py)), int(np.floor(px))
        val = np.zeros(c)
        for yy, xx, wt in ((y0, x0, (1 - (py - y0)) * (1 - (px - x0))), (y0, x0 + 1, (1 - (py - y0)) * (px - x0)),
                           (y0 + 1, x0, (py - y0) * (1 - (px - x0))), (y0 + 1, x0 + 1, (py - y0) * (px - x0))):
            if 0 <= yy < h and 0 <= xx < w:
                val += wt * img[:, yy, xx]
        return val

    out = np.zeros((b, o, ho, wo))
    for n in range(b):
        for y in range(ho):
            for xo in range(wo):
                for i in range(kh):
                    for j in range(kw):
                        k = i * kw + j
                        py = y * stride - pad + i * dil + offset[n, 2 * k, y, xo]
                        px = xo * stride - pad + j * dil + offset[n, 2 * k + 1, y, xo]
                        out[n, :, y, xo] += weight[:, :, i, j] @ (sample(x[n], py, px) * mask[n, k, y, xo])
    return out + (0 if bias is None else bias.double().numpy()[None, :, None, None])


@pytest.mark.parametrize("stride,pad,dil", [(1, 1, 1), (2, 0, 1), (1, 2, 2)])
def test_deform_conv_equals_mmcv_definition(stride, pad, dil):
    g = torch.Generator().manual_seed(stride * 10 + pad + dil)
    x = torch.randn(2, 3, 7, 6, generator=g)
    weight, bias = torch.randn(4, 3, 3, 3, generator=g), torch.randn(4, generator=g)
    ho = (7 + 2 * pad - dil * 2 - 1) // stride + 1
    wo = (6 + 2 * pad - dil * 2 - 1) // stride + 1
    offset = torch.randn(2, 18, ho, wo, generator=g) * 3  # many samples land outside the image
    mask = torch.rand(2, 9, ho, wo, generator=g)
    got = modulated_deform_conv2d(x, offset, mask, weight, bias, stride, pad, dil)
    np.testing.assert_allclose(got.double().numpy(), dcn_per_pixel(x, offset, mask, weight, bias, stride, pad, dil),
                               atol=1e-4)


def test_deform_conv_without_offsets_is_a_convolution():
    x, weight = torch.randn(1, 5, 9, 8), torch.randn(6, 5, 3, 3)
    got = modulated_deform_conv2d(x, torch.zeros(1, 18, 9, 8), torch.ones(1, 9, 9, 8), weight, None, 1, 1)
    torch.testing.assert_close(got, torch.nn.functional.conv2d(x, weight, padding=1), atol=1e-5, rtol=1e-5)


# -- restore, then SAM ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,build", [("airnet_sam_vit_b", build_airnet), ("urie_sam_vit_b", build_urie)])
def test_sam_segments_the_restored_image(name, build):
    image = check_image(47, 61)  # odd sizes: URIE pools twice and pads back, AirNet keeps full resolution
    model = create_model(name, config="tiny")
    model.set_image(image)
    got = model.predict(PROMPTS, multimask=True)
    # the same two stages run by hand, from the same seeded random init
    with seeded_init():
        restorer = build("tiny").eval()
    with torch.inference_mode():
        restored = restorer.to_image(restorer(restorer.to_input(image, "cpu")))
    assert restored.shape == image.shape and restored.dtype == np.uint8
    np.testing.assert_array_equal(model.restored, restored)
    assert np.abs(restored.astype(int) - image).mean() > 1  # restoration changed the image
    sam = make_sam("vit_b", config="tiny")
    sam.set_image(restored)
    want = sam.predict(PROMPTS, multimask=True)
    np.testing.assert_array_equal(got.logits, want.logits)
    np.testing.assert_array_equal(got.masks, want.masks)
    sam.set_image(image)  # SAM on the unrestored image would give other logits: the test can fail
    assert not np.allclose(sam.predict(PROMPTS, multimask=True).logits, got.logits)


def test_image_conversions_follow_each_release():
    assert AirNet.to_image(torch.full((1, 3, 2, 2), 0.5))[0, 0, 0] == 127  # clip(x * 255) truncated
    assert AirNet.to_image(torch.full((1, 3, 2, 2), 1.7))[0, 0, 0] == 255
    image = check_image(9, 11)
    np.testing.assert_array_equal(SKUNet.to_image(SKUNet.to_input(image, "cpu")), image)  # exact inverse
    x = SKUNet.to_input(image, "cpu")
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(x[0, :, 0, 0], (torch.tensor(image[0, 0] / 255, dtype=torch.float32) - mean) / std)


def _save(tmp_path: Path, name: str, module, prefix: str = "") -> Path:
    with torch.no_grad():  # distinct from the seeded init, so loading visibly matters
        for p in module.parameters():
            p.add_(0.01)
    path = tmp_path / name
    torch.save({prefix + k: v for k, v in module.state_dict().items()}, path)
    return path


def test_two_checkpoints_load_strictly_in_order(tmp_path):
    from baselines.checkpoints import file_digest

    urie = _save(tmp_path, "urie.pt", build_urie("tiny"), prefix="module.")  # the release's DataParallel prefix
    sam = make_sam("vit_b", config="tiny")
    sam_path = _save(tmp_path, "sam.pth", sam.model)
    model = create_model("urie_sam_vit_b", checkpoint=f"{urie},{sam_path}", config="tiny")
    assert not model.random_weights
    assert model.checkpoint_sha256 == f"{file_digest(urie)},{file_digest(sam_path)}"
    want = torch.load(urie, weights_only=True)
    for k, v in model.restorer.state_dict().items():
        torch.testing.assert_close(v, want["module." + k])
    torch.testing.assert_close(model.segmenter.model.state_dict()["mask_decoder.iou_token.weight"],
                               sam.model.state_dict()["mask_decoder.iou_token.weight"])
    with pytest.raises(CheckpointError, match=r"sam.pth does not fit SKUNet: \d+ missing keys"):
        create_model("urie_sam_vit_b", checkpoint=f"{sam_path},{urie}", config="tiny")
    with pytest.raises(ModelArgumentError, match="loads 2 checkpoint files: give them as one --checkpoint joined by "
                                                 "',' in this order: ECCV_SKUNET_OURS.ckpt.pt,sam_vit_b_01ec64.pth"):
        create_model("urie_sam_vit_b", checkpoint=str(urie), config="tiny")
    airnet = _save(tmp_path, "All.pth", build_airnet("tiny"))  # the official release: a bare state dict
    model = make_airnet_sam("vit_b", checkpoint=f"{airnet},{sam_path}", config="tiny")
    assert model.checkpoint_sha256.startswith(file_digest(airnet) + ",")


def test_official_urie_file_name_is_checked_against_its_hash(tmp_path):
    fake = _save(tmp_path, URIE_FILE, build_urie("tiny"), prefix="module.")
    sam_path = _save(tmp_path, "sam.pth", make_sam("vit_b", config="tiny").model)
    with pytest.raises(CheckpointError, match="does not match the published e6fdba3a"):
        create_model("urie_sam_vit_b", checkpoint=f"{fake},{sam_path}", config="tiny")


def test_random_weights_only_when_asked():
    with pytest.raises(ModelArgumentError, match=r"give --checkpoint \(All.pth,sam_vit_b_01ec64.pth\), or pass "
                                                 "--random-weights"):
        check_model_arguments("airnet_sam_vit_b")
    check_model_arguments("airnet_sam_vit_b", random_weights=True)
    with pytest.raises(ModelArgumentError, match="takes no option bogus; its options: config, dtype, task"):
        check_model_arguments("airnet_sam_vit_b", options={"bogus": 1}, random_weights=True)
    assert create_model("urie_sam_vit_h", config="tiny").random_weights


def test_eval_cli_takes_both_files_and_records_both_hashes(tmp_path):
    from baselines.checkpoints import file_digest
    from benchmark.report.results import read_results

    from .conftest import run_cli

    ds = tmp_path / "ds"
    assert run_cli("build", "--out", ds, "--num-images", "2", "--image-size", "64x48",
                   "--profile", "robustsam/gauss_noise").returncode == 0
    urie = _save(tmp_path, "urie.pt", build_urie("tiny"), prefix="module.")
    sam = _save(tmp_path, "sam.pth", make_sam("vit_b", config="tiny").model)
    args = ("eval", "--dataset", ds, "--model", "urie_sam_vit_b", "--model-option", "config=tiny",
            "--protocol", "box", "--out", tmp_path / "results")
    r = run_cli(*args, "--checkpoint", f"{urie},{sam}")
    assert r.returncode == 0, r.stderr
    res = read_results(tmp_path / "results").to_pandas()
    assert len(res) > 0 and (res.checkpoint_sha256 == f"{file_digest(urie)},{file_digest(sam)}").all()
    r = run_cli(*args, "--checkpoint", str(sam))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "loads 2 checkpoint files" in r.stderr and "Traceback" not in r.stderr


def test_robustsam_table_rows_reproduce(tmp_path):
    """RobustSAM Table 3's AirNet+SAM and URIE+SAM rows run (tiny random weights, synthetic images)."""
    import csv

    from benchmark.report.reproduce import get_suite, reproduce, synthetic_override

    suite = get_suite("robustsam_seen_lvis_box")
    path = reproduce(suite.name, None, {}, tmp_path, models=["AirNet+SAM", "URIE+SAM"], random_weights=True,
                     model_kwargs={"airnet_sam_vit_b": {"config": "tiny"}, "urie_sam_vit_b": {"config": "tiny"}},
                     dataset_override=synthetic_override(suite, num_images=1))
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["model"] in ("AirNet+SAM", "URIE+SAM")]
    assert len(rows) == 12 and all(r["reproduced"] for r in rows)
    assert {r["our_model"] for r in rows} == {"airnet_sam_vit_b (random weights)", "urie_sam_vit_b (random weights)"}
    assert {r["reported"] for r in rows if r["model"] == "URIE+SAM" and r["condition"] == "clear"} == {"74.06", "92.77"}


def test_deform_conv_on_a_one_pixel_wide_image():
    g = torch.Generator().manual_seed(5)
    x, weight = torch.randn(1, 2, 5, 1, generator=g), torch.randn(3, 2, 3, 3, generator=g)
    offset, mask = torch.randn(1, 18, 5, 1, generator=g), torch.rand(1, 9, 5, 1, generator=g)
    np.testing.assert_allclose(modulated_deform_conv2d(x, offset, mask, weight, None, 1, 1).double().numpy(),
                               dcn_per_pixel(x, offset, mask, weight, None, 1, 1, 1), atol=1e-5)
