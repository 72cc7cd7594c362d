"""ECOCSeg's training data pipeline and DACS augmentation, against hand-worked cases of the rules the
authors' DAFormer configs state: mmcv's keep-ratio rescale, mmseg's RandomCrop(cat_max_ratio), DAFormer's
rare-class sampling, the pseudo-label crop, the strong augmentation, mmcv's paramwise optimizer rule, and
the CLI's one-line refusals."""
import colorsys
import copy
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines.segformer.configs import CONFIGS  # noqa: E402
from baselines.segformer.head import SegFormer  # noqa: E402
from benchmark.cli import main  # noqa: E402
from benchmark.train.ecocseg_data import (RareClassSampler, crop_box, random_crop, rescale,  # noqa: E402
                                          rescale_size)
from benchmark.train.ecocseg_run import EcocSegRecipe, _optimizer, scale_of  # noqa: E402
from benchmark.train.strong_aug import (blur_kernel_size, color_jitter, gaussian_blur, hsv_to_rgb,  # noqa: E402
                                        rgb_to_hsv, strong_transform)


@pytest.mark.parametrize("w,h,scale,want", [
    (1914, 1052, (1280, 720), (1280, 704)),  # GTA5: the long side binds (1280/1914 < 720/1052)
    (2048, 1024, (1024, 512), (1024, 512)),  # Cityscapes: halved
    (1280, 760, (1280, 760), (1280, 760)),  # SYNTHIA: unchanged
    (1920, 1080, (960, 540), (960, 540)),  # ACDC
    (48, 40, (1280, 720), (864, 720)),  # a small image is enlarged: the short side binds
])
def test_rescale_size_is_mmcvs_keep_ratio_rule(w, h, scale, want):
    assert rescale_size(w, h, scale) == want


def test_rescale_resizes_labels_by_nearest_neighbour_only():
    lab = np.array([[0, 7], [255, 3]], np.uint8).repeat(5, 0).repeat(5, 1)
    img = np.zeros((10, 10, 3), np.uint8)
    out_img, out_lab = rescale(img, lab, (20, 20))
    assert out_img.shape == (20, 20, 3) and set(np.unique(out_lab)) == {0, 3, 7, 255}
    assert rescale(img, lab, None)[1] is lab


def test_cat_max_ratio_redraws_until_no_class_dominates():
    lab = np.zeros((64, 64), np.uint8)
    lab[:16, :16] = 1  # only crops reaching into the top-left corner hold a second class
    ok = lambda c: (len(np.unique(c)) > 1 and np.bincount(c.ravel()).max() / c.size < 0.75)  # noqa: E731
    plain = [ok(random_crop(lab, lab, 24, np.random.default_rng(s))[1]) for s in range(200)]
    ruled = [ok(random_crop(lab, lab, 24, np.random.default_rng(s), 0.75)[1]) for s in range(200)]
    assert sum(ruled) > 10 * max(1, sum(plain))  # 44 against 2 of 200 crops
    # the rule's own sequence: the first of up to 11 draws that passes, else the 11th
    for s in range(20):
        rng = np.random.default_rng(s)
        twin = copy.deepcopy(rng)
        boxes = [crop_box(64, 64, 24, twin) for _ in range(11)]
        first = next((b for b in boxes if ok(lab[b[0]:b[0] + 24, b[1]:b[1] + 24])), boxes[-1])
        y, x = first
        assert np.array_equal(random_crop(lab, lab, 24, rng, 0.75)[1], lab[y:y + 24, x:x + 24])


def test_rare_class_sampling_probabilities_and_image_lists():
    counts = np.array([[9000, 0, 10], [9000, 4000, 0], [9000, 3500, 4000]])
    rcs = RareClassSampler(counts, temperature=0.01, min_pixels=3000, min_crop_ratio=0.5)
    totals = counts.sum(0)
    f = 1 - totals / totals.sum()
    want = np.exp(f / 0.01) / np.exp(f / 0.01).sum()  # softmax over the classes present
    assert dict(zip(rcs.classes.tolist(), rcs.prob)) == pytest.approx(dict(enumerate(want)))
    assert rcs.images[1].tolist() == [1, 2] and rcs.images[2].tolist() == [2] and rcs.images[0].tolist() == [0, 1, 2]
    warm = RareClassSampler(counts, temperature=0.1, min_pixels=3000, min_crop_ratio=0.5)
    draws = [warm.draw(np.random.default_rng(s)) for s in range(300)]
    classes = [c for c, _ in draws]
    assert classes.count(2) > classes.count(1) > classes.count(0)  # the rarer, the more often
    assert all(i in warm.images[c] for c, i in draws)
    assert rcs.min_crop == 1500


def test_rare_class_sampling_refuses_data_with_no_class_above_min_pixels():
    with pytest.raises(Exception, match="rcs_min_pixels=3000.*rcs_temperature=0"):
        RareClassSampler(np.array([[100, 20]]), 0.01, 3000, 0.5)


def test_blur_kernel_size_and_blur_of_constant_and_impulse():
    assert [blur_kernel_size(s) for s in (512, 51, 32, 40, 10)] == [51, 5, 3, 3, 1]
    const = torch.full((1, 3, 32, 32), 0.7)
    assert torch.allclose(gaussian_blur(const, 0.8), const, atol=1e-6)
    impulse = torch.zeros(1, 1, 31, 31)
    impulse[0, 0, 15, 15] = 1
    out = gaussian_blur(impulse, 1.0)
    x = torch.arange(3.0) - 1
    g = torch.exp(-x ** 2 / 2)
    g = g / g.sum()
    assert torch.allclose(out[0, 0, 14:17, 14:17], g[:, None] * g[None, :], atol=1e-6)
    assert float(out.sum()) == pytest.approx(1.0)


def test_hsv_matches_colorsys_and_round_trips():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((1, 3, 4, 5))).float()
    hsv = rgb_to_hsv(x)
    for i in range(4):
        for j in range(5):
            h, s, v = colorsys.rgb_to_hsv(*x[0, :, i, j].tolist())
            assert hsv[0, :, i, j].tolist() == pytest.approx([h * 2 * np.pi, s, v], abs=1e-5)
    assert torch.allclose(hsv_to_rgb(hsv), x, atol=1e-5)


def test_color_jitter_stays_in_range_and_strong_transform_is_a_function_of_the_generator():
    x = torch.rand(1, 3, 16, 16)
    y = color_jitter(x, np.random.default_rng(1))
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1 and not torch.equal(x, y)
    mean, std = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1), torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    imgs = (torch.rand(2, 3, 16, 16) * 255 - mean) / std
    a = strong_transform(imgs, mean, std, np.random.default_rng(5))
    b = strong_transform(imgs, mean, std, np.random.default_rng(5))
    assert torch.equal(a, b)
    # with both batch draws below their thresholds nothing changes
    seed = next(s for s in range(100) if (lambda r: r.uniform() <= 0.2 and r.uniform() <= 0.5)(np.random.default_rng(s)))
    assert torch.equal(strong_transform(imgs, mean, std, np.random.default_rng(seed)), imgs)


def test_optimizer_groups_follow_the_configs_paramwise_rule():
    net = SegFormer(CONFIGS["tiny"], 4)
    opt, names = _optimizer(net, EcocSegRecipe())
    enc, norm, head = opt.param_groups
    assert (enc["lr"], enc["weight_decay"]) == (6e-5, 0.01) and (norm["lr"], norm["weight_decay"]) == (6e-5, 0.0)
    assert (head["lr"], head["weight_decay"]) == pytest.approx((6e-4, 0.01))
    n_enc, n_norm = len(enc["params"]), len(norm["params"])
    assert all("norm" in n and "decode_head" not in n for n in names[n_enc:n_enc + n_norm])
    assert all("decode_head" in n for n in names[n_enc + n_norm:]) and len(names) == len(list(net.parameters()))


def test_scales_by_source_and_bad_scale_text():
    assert scale_of("auto", "gta5") == (1280, 720) and scale_of("auto", "synthetic") is None
    assert scale_of("none", "gta5") is None and scale_of("960x540", "") == (960, 540)
    for bad in ("big", "\u00b2x540", "9" * 5000 + "x540", "0x540"):  # a superscript or 5000 digits: no int() crash
        with pytest.raises(Exception, match="auto, none or WxH"):
            scale_of(bad, "")


@pytest.mark.parametrize("extra, message", [
    (["--refiner", "x.pth"], "does not take --refiner"),
    (["--grad-accum", "2"], "does not take --grad-accum"),
    (["--recipe-option", "nope=1"], "'nope': not an ecocseg setting; valid: "),
    (["--recipe-option", "flip=2"], "flip=2.0: must be in [0, 1]"),
    (["--recipe-option", "source_scale=12"], "'source_scale': 12 is not a str"),
    (["--recipe-option", "target_scale=wide"], "target_scale='wide': must be auto, none or WxH"),
    (["--recipe-option", "ignore_bottom=-1"], "recipe option ignore_bottom=-1: must be a finite number >= 0"),
    (["--recipe-option", "mining_threshold=nan"], "recipe option mining_threshold=nan: must be a finite number >= 0"),
])
def test_cli_misuse_is_one_line_exit_2(tmp_path, capsys, extra, message):
    argv = ["train", "ecocseg", "--dataset", tmp_path / "src", "--target-dataset", tmp_path / "tgt",
            "--out", tmp_path / "run", *extra]
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "run").exists()


# --- a codebook from a file (the paper's CLIP codebook, as the authors' config lists it) ------------------

def _codebook(n=4, k=6, seed=0):
    from baselines.ecoc.codebook import random_codebook

    return random_codebook(n, k, trials=32, seed=seed).astype(int).tolist()


def test_codebook_file_is_used_as_given(tmp_path):
    import json

    import hashlib

    from benchmark.train.ecocseg_run import _session, codebook_of

    rows = _codebook()
    (tmp_path / "cb.json").write_text(json.dumps(rows))
    np.save(tmp_path / "cb.npy", np.array(rows, dtype=np.int64))
    for name in ("cb.json", "cb.npy"):
        recipe = EcocSegRecipe(config="tiny", bits=6, codebook=str(tmp_path / name))
        code, digest = codebook_of(recipe, 4)
        assert digest == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()  # of the bytes parsed
        run = _session(recipe, 4, "cpu", codebook=code)
        assert run.pair["student"].code_book.tolist() == rows == run.pair["teacher"].code_book.tolist(), name


@pytest.mark.parametrize("content, message", [
    ([[0, 1], [1, 0], [1, 1]], "3 rows of lengths [2]; must be 4 rows"),
    ([[0, 1], [1, 0], [1, 1], [0]], "must be 4 rows of one length"),
    ([[0, 1], [1, 0], [1, 1], [0, 2]], "integers 0 or 1"),
    ([[0, 1], [1, 0], [1, 1], [0, True]], "integers 0 or 1"),
    ([[0, 1], [1, 0], [1, 1], [0, 1.0]], "integers 0 or 1"),
    ([[0, 1], [1, 0], [1, 1], [0, 1]], "two classes share a codeword"),
    ({"rows": 4}, "a list of N lists"),
])
def test_bad_codebook_files_are_one_error_naming_the_file(tmp_path, content, message):
    import json

    from baselines.ecoc.codebook import read_codebook

    (tmp_path / "cb.json").write_text(json.dumps(content))
    with pytest.raises(ValueError, match=f"cb.json: .*{re.escape(message)}"):
        read_codebook(str(tmp_path / "cb.json"), 4)


def test_codebook_files_that_are_not_plain_data_are_refused(tmp_path):
    import os
    import pickle

    from baselines.ecoc.codebook import read_codebook

    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="obj.npy: not a numpy array without pickles"):
        read_codebook(str(tmp_path / "obj.npy"), 4)
    (tmp_path / "p.json").write_bytes(pickle.dumps([[0, 1]]))
    with pytest.raises(ValueError, match="p.json: not json"):
        read_codebook(str(tmp_path / "p.json"), 4)
    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(ValueError, match="fifo.json: must be a regular file"):
        read_codebook(str(tmp_path / "fifo.json"), 4)  # never opened: a FIFO would block the read


def test_codebook_with_another_length_or_on_the_softmax_head_is_refused(tmp_path):
    import json

    from benchmark.train.ecocseg_run import codebook_of

    (tmp_path / "cb.json").write_text(json.dumps(_codebook()))
    with pytest.raises(Exception, match="6-bit codewords but bits is 40; pass --recipe-option bits=6"):
        codebook_of(EcocSegRecipe(codebook=str(tmp_path / "cb.json")), 4)
    with pytest.raises(Exception, match="only the ecoc head has a codebook"):
        codebook_of(EcocSegRecipe(head="softmax", bits=6, codebook=str(tmp_path / "cb.json")), 4)


# --- the encoder from an ImageNet MiT checkpoint ------------------------------------------------------------

def test_encoder_checkpoint_loads_into_the_backbone_only(tmp_path):
    from baselines.checkpoints import CheckpointError
    from benchmark.train.ecocseg_run import _session

    donor = SegFormer(CONFIGS["tiny"], 4)
    torch.nn.init.normal_(donor.backbone.patch_embed1.proj.weight)
    mit = {k: v for k, v in donor.backbone.state_dict().items()} | {"head.weight": torch.zeros(1000, 32),
                                                                    "head.bias": torch.zeros(1000)}
    torch.save(mit, tmp_path / "mit_tiny.pth")
    fresh = _session(EcocSegRecipe(config="tiny", head="softmax"), 4, "cpu")
    run = _session(EcocSegRecipe(config="tiny", head="softmax"), 4, "cpu", init_checkpoint=str(tmp_path / "mit_tiny.pth"))
    for name, pair in (("student", run.pair["student"]), ("teacher", run.pair["teacher"])):
        got = pair.backbone.state_dict()
        assert all(torch.equal(got[k], v) for k, v in donor.backbone.state_dict().items()), name
    assert all(torch.equal(a, b) for a, b in zip(run.pair["student"].decode_head.state_dict().values(),
                                                 fresh.pair["student"].decode_head.state_dict().values()))
    whole = {f"backbone.{k}": v for k, v in donor.backbone.state_dict().items()} | \
        {f"decode_head.{k}": v for k, v in donor.decode_head.state_dict().items()}
    torch.save(whole, tmp_path / "segformer.pth")  # a whole SegFormer checkpoint: its encoder is taken
    run = _session(EcocSegRecipe(config="tiny", head="softmax"), 4, "cpu", init_checkpoint=str(tmp_path / "segformer.pth"))
    assert torch.equal(run.pair["student"].backbone.patch_embed1.proj.weight, donor.backbone.patch_embed1.proj.weight)
    del mit["block1.0.attn.q.weight"]
    torch.save(mit, tmp_path / "short.pth")
    with pytest.raises(CheckpointError, match=r"short.pth \(encoder\) does not fit .*1 missing keys: block1.0.attn.q"):
        _session(EcocSegRecipe(config="tiny", head="softmax"), 4, "cpu", init_checkpoint=str(tmp_path / "short.pth"))
