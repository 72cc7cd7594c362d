"""RUAC: the Weibull (BNDL) head against scipy's Weibull distribution and a direct numpy Monte-Carlo
entropy, the uncertainty output of the contract, the key set (SAM 2.1 B+ official list + the head), the
loader's training-only prefixes and the published sha256 check."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from scipy import stats  # noqa: E402

from baselines import create_model, resolve_model  # noqa: E402
from baselines.check import check_image  # noqa: E402
from baselines.checkpoints import CheckpointError, load_into  # noqa: E402
from baselines.contract import Prompts, validate_prediction  # noqa: E402
from baselines.sam2 import ruac  # noqa: E402

REF = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "state_dicts"
BOXES = np.array([[5, 5, 40, 30], [1, 2, 30, 40], [20, 10, 60, 45]], np.float32)


def test_weibull_draw_is_the_scipy_quantile():
    """Inversion sampling equals scipy's Weibull ppf at the same u, with scale = mean / Gamma(1 + 1/k)."""
    rng = np.random.default_rng(0)
    mean, shape, u = rng.uniform(0.1, 3, 50), rng.uniform(0.5, 4, 50), rng.uniform(0, 0.999, 50)
    got = ruac.PixelBNDL.sample(torch.tensor(mean), torch.tensor(shape), torch.tensor(u)).numpy()
    scale = mean / np.exp(np.array([math.lgamma(1 + 1 / k) for k in shape]))
    np.testing.assert_allclose(got, stats.weibull_min.ppf(u, shape, scale=scale), rtol=1e-9)
    np.testing.assert_allclose(stats.weibull_min.mean(shape, scale=scale), mean, rtol=1e-9)


def _head_inputs(seed=0, b=2, k=4, h=6, w=5):
    g = torch.Generator().manual_seed(seed)
    head = ruac.PixelBNDL(8, 2, 16)
    with torch.no_grad():
        for p in head.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=g))
    return head, torch.randn(b, h, w, 8, generator=g), torch.randn(b, k, 16, generator=g)


def test_analytic_logits_are_the_monte_carlo_mean():
    """E[z . w] = E[z] . E[w] for independent Weibull z and w: the analytic logit is the sample mean
    (within 5 standard errors; shapes k >= ~2 keep the variance finite and the estimate stable)."""
    head, feat, tokens = _head_inputs()
    with torch.no_grad():
        head.linear_k[0].bias.fill_(2.0)
        head.linear_kw[0].bias.fill_(2.0)
        head.linear_k[0].weight.mul_(0.1)
        head.linear_kw[0].weight.mul_(0.1)
        z, k, w, k_w = head.posteriors(feat, tokens)
        analytic = head.logits(z, w)
    g = torch.Generator().manual_seed(1)
    n = 20000
    acc = torch.zeros_like(analytic, dtype=torch.float64)
    acc2 = torch.zeros_like(acc)
    for _ in range(n // 1000):
        u_z, u_w = (torch.rand((1000, *t.shape), generator=g, dtype=torch.float64) for t in (z, w))
        zs = head.sample(z.double()[None], k.double()[None], u_z)
        ws = head.sample(w.double()[None], k_w.double()[None], u_w)
        s = torch.einsum("sbhwc,sbkc->sbkhw", zs, ws[:, :, :, 1] - ws[:, :, :, 0])
        acc += s.sum(0)
        acc2 += s.pow(2).sum(0)
    mean = acc / n
    se = ((acc2 / n - mean ** 2).clamp(min=0) / n).sqrt()
    mc = mean + (torch.relu(head.bias[1]) - torch.relu(head.bias[0])).detach().double()
    assert ((mc - analytic.detach().double()).abs() <= 5 * se + 1e-9).all()
    # power: the classic slip scale = mean (no Gamma(1 + 1/k) division) would be caught
    gamma = lambda shape: torch.exp(torch.lgamma(1 + 1 / shape))  # noqa: E731
    slipped = head.logits(z * gamma(k), w * gamma(k_w)).detach().double()
    assert not ((mc - slipped).abs() <= 5 * se + 1e-9).all()


def test_uncertainty_equals_numpy_monte_carlo_entropy():
    """The decoder's uncertainty = H2(mean_s sigmoid(logit_s)) with the same draws, computed in numpy."""
    dec = ruac.BayesianMaskDecoder(64, mc_samples=5, mlp_dim=32, num_heads=2, iou_hidden_dim=32)
    dec.pixel_bndl = _head_inputs()[0]
    _, feat, tokens = _head_inputs()
    with torch.no_grad():
        z, k, w, k_w = dec.pixel_bndl.posteriors(feat, tokens)
        got = dec.mc_uncertainty(z, k, w, k_w).numpy()
    gen = torch.Generator().manual_seed(dec.mc_seed)
    z, k, w, k_w = (t.detach().numpy().astype(np.float64) for t in (z, k, w, k_w))
    b = dec.pixel_bndl.bias.detach().numpy()
    probs = []
    for _ in range(5):
        u_z = torch.rand(z.shape[1:], generator=gen).numpy()
        u_w = torch.rand(w.shape[1:], generator=gen).numpy()
        lgamma = np.vectorize(math.lgamma)
        zs, ws = (np.where(mean > 0, stats.weibull_min.ppf(u, shape, scale=np.maximum(mean, 1e-300) /
                                                           np.exp(lgamma(1 + 1 / shape))), 0.0)
                  for mean, shape, u in ((z, k, u_z), (w, k_w, u_w)))  # a zero mean is a point mass at 0
        logit = np.einsum("bhwc,bkc->bkhw", zs, ws[:, :, 1] - ws[:, :, 0]) + max(b[1], 0) - max(b[0], 0)
        probs.append(1 / (1 + np.exp(-logit)))
    p = np.mean(probs, axis=0)
    want = stats.entropy(np.stack([p, 1 - p]), base=2)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert 0 <= got.min() and got.max() <= 1


def test_prediction_has_uncertainty_that_tracks_confidence():
    m = ruac.make_ruac(config="tiny")
    img = check_image()
    m.set_image(img)
    for mm in (False, True):
        pred = m.predict(Prompts(boxes=BOXES), multimask=mm)
        validate_prediction(pred, 3, *img.shape[:2])
        assert pred.uncertainty.dtype == np.float32 and pred.uncertainty.shape == pred.masks.shape
        assert pred.uncertainty.min() >= 0 and pred.uncertainty.max() <= 1
    base = m.predict(Prompts(boxes=BOXES), multimask=True).uncertainty.mean()
    with torch.no_grad():  # a decisive background bias: probabilities near 0, entropy near 0
        m.model.sam_mask_decoder.pixel_bndl.bias.copy_(torch.tensor([200.0, 0.0]))
    sure = m.predict(Prompts(boxes=BOXES), multimask=True)
    assert sure.uncertainty.max() < 0.01 < base and not sure.masks.any()


def test_keys_are_sam2_b_plus_plus_the_head():
    path = REF / "sam2_1_hiera_b_plus.json"
    if not path.is_file():
        pytest.skip(f"official key list {path} is absent (../shared not next to the repo)")
    want = {k: tuple(v) for k, v in json.loads(path.read_text())["keys"].items()}
    with torch.device("meta"):
        model = ruac.build_torch_model()
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert {k: got[k] for k in want} == want
    head = {k: s for k, s in got.items() if k not in want}
    assert head == {"sam_mask_decoder.pixel_bndl.linear_add.weight": (32, 32),
                    "sam_mask_decoder.pixel_bndl.linear_add.bias": (32,),
                    "sam_mask_decoder.pixel_bndl.linear_k.0.weight": (1, 32),
                    "sam_mask_decoder.pixel_bndl.linear_k.0.bias": (1,),
                    "sam_mask_decoder.pixel_bndl.linear_add_w.weight": (64, 256),
                    "sam_mask_decoder.pixel_bndl.linear_add_w.bias": (64,),
                    "sam_mask_decoder.pixel_bndl.linear_kw.0.weight": (1, 2),
                    "sam_mask_decoder.pixel_bndl.linear_kw.0.bias": (1,),
                    "sam_mask_decoder.pixel_bndl.bias": (2,)}
    load_into(model, {k: torch.empty(s, device="meta") for k, s in got.items()}, where="ruac keys")


def _saved(tmp_path, name, extra=None, drop=()):
    from safetensors.torch import save_file

    m = ruac.make_ruac(config="tiny")
    with torch.no_grad():
        m.model.sam_mask_decoder.pixel_bndl.bias.fill_(0.5)
    sd = {k: v.contiguous() for k, v in m.model.state_dict().items() if k not in drop}
    sd.update(extra or {})
    save_file(sd, str(tmp_path / name))
    return tmp_path / name


def test_loader_drops_attackers_and_names_missing_head_keys(tmp_path):
    attackers = {"style_gcn.w": torch.zeros(2), "deform_attacker.b": torch.ones(1)}
    path = _saved(tmp_path, "ruac.safetensors", extra=attackers)
    m = ruac.make_ruac(config="tiny", checkpoint=str(path))
    assert m.model.sam_mask_decoder.pixel_bndl.bias.tolist() == [0.5, 0.5] and len(m.checkpoint_sha256) == 64
    bad = _saved(tmp_path, "bad.safetensors", extra={"other.w": torch.zeros(1)},
                 drop=("sam_mask_decoder.pixel_bndl.linear_k.0.weight",))
    with pytest.raises(CheckpointError, match=r"bad\.safetensors.*pixel_bndl\.linear_k\.0\.weight.*other\.w"):
        ruac.make_ruac(config="tiny", checkpoint=str(bad))


def test_release_name_is_checked_against_the_published_sha256(tmp_path):
    path = _saved(tmp_path, "model.safetensors")
    with pytest.raises(CheckpointError, match=f"does not match the published {ruac.RELEASE_SHA256}"):
        ruac.make_ruac(config="tiny", checkpoint=str(path))
    ruac.make_ruac(config="tiny", checkpoint=str(path), sha256="")  # an explicit empty hash skips the check


def test_registry_entry():
    info = resolve_model("ruac_sam2.1_hiera_b+")
    assert info.public_weights and info.weights_status == "expects model.safetensors"
    assert "RECONSTRUCTED" in info.verified and "pixel_bndl" in info.verified
    m = create_model("ruac_sam2.1_hiera_b+", config="tiny", mc_samples=3)
    assert m.model.sam_mask_decoder.mc_samples == 3
    with pytest.raises(ValueError, match="mc_samples"):
        create_model("ruac_sam2.1_hiera_b+", config="tiny", mc_samples=0)
