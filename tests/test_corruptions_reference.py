"""Corruptions against their references: golden outputs of imagecorruptions 1.1.2 and RobustSAM's
augment.py (../shared/reference/golden), Pillow, and independent re-statements of reference loops."""
from __future__ import annotations

import io
import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from corruptions import apply_corruption
from corruptions.ops import imagenet_c as ic
from corruptions.ops import robustsam as rsam
from corruptions.ops._frost import frost_texture

GOLDEN = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "golden"

# max |difference| to the golden output and the largest fraction of values allowed to differ.
# Exact where the arithmetic is the reference's; the blur family (float32/OpenCV filters in place of
# float64 scipy/skimage ones; the reference itself moves by 1 between numpy 1 and 2) within 1.
TOLERANCE = {"gaussian_blur": (1, 0.15), "motion_blur": (1, 0.15),
             "elastic_transform": (1, 0.001), "spatter": (1, 0.001)}
EXACT = ["gaussian_noise", "shot_noise", "defocus_blur", "glass_blur", "zoom_blur", "snow", "fog", "brightness", "contrast",
         "pixelate", "jpeg_compression", "speckle_noise", "saturate"]


def _golden(relative: str):
    path = GOLDEN / relative
    if not path.is_file():
        pytest.skip(f"golden outputs absent: {path}")
    return np.load(path)


@pytest.fixture(scope="module")
def ic_golden():
    return _golden("imagecorruptions/outputs_numpy2.npz")


@pytest.fixture(scope="module")
def rs_golden():
    return _golden("robustsam/outputs.npz")


def _reference_input() -> np.ndarray:
    """The golden input, from the formula in shared/reference/README.md."""
    y, x = np.mgrid[0:96, 0:128]
    img = np.stack([2 * x, (255 * y) // 95, np.where((x // 16 + y // 16) % 2 == 0, 64, 191)], -1)
    img[(x - 64) ** 2 + (y - 48) ** 2 <= 28**2] = (230, 40, 40)
    img[(8 <= x) & (x < 40) & (60 <= y) & (y < 88)] = (20, 200, 60)
    return img.astype(np.uint8)


def test_golden_input_is_the_documented_pattern(ic_golden, rs_golden):
    assert np.array_equal(ic_golden["input"], _reference_input())
    assert np.array_equal(rs_golden["input"], _reference_input())


@pytest.mark.parametrize("name", EXACT + sorted(TOLERANCE))
def test_imagecorruptions_equal_to_golden(ic_golden, name):
    """Seeded like the golden run (np.random.seed(0) before each call = RandomState(0))."""
    max_diff, max_frac = TOLERANCE.get(name, (0, 0.0))
    for s in range(1, 6):
        out = ic.run_impl(name, _reference_input(), s, np.random.RandomState(0))
        d = np.abs(out.astype(int) - ic_golden[f"{name}/{s}"])
        assert d.max() <= max_diff and (d > 0).mean() <= max_frac, f"{name}/{s}: max {d.max()}, {(d > 0).mean():.4f} differ"


def test_impulse_noise_matches_the_reference_statistics(ic_golden):
    """The reference is unseeded, so compare statistics: the fraction of values forced to 0 or 255
    (over values that were neither) must be c within 4 binomial sigmas, for ours and the golden alike,
    and salt and pepper must be balanced."""
    x = _reference_input()
    inner = (x > 0) & (x < 255)
    for s, c in enumerate([.03, .06, .09, 0.17, 0.27], 1):
        sd = np.sqrt(c * (1 - c) / inner.sum())
        ours = ic.run_impl("impulse_noise", x, s, np.random.default_rng(s))
        for out in (ours, ic_golden[f"impulse_noise/{s}"]):
            pepper, salt = (out[inner] == 0).mean(), (out[inner] == 255).mean()
            assert abs(pepper + salt - c) < 4 * sd and abs(pepper - salt) < 4 * sd
            assert np.array_equal(out[~((out == 0) | (out == 255))], x[~((out == 0) | (out == 255))])


def _skimage_hsv_roundtrip(x: np.ndarray, value, saturation) -> np.ndarray:
    """scikit-image 0.21's rgb2hsv -> (edit) -> hsv2rgb in float64, restated, then imagecorruptions'
    clip * 255 and np.uint8: the reference for brightness and saturate, which skip the HSV planes."""
    r, g, b = (x[..., i] / 255. for i in range(3))
    v = np.maximum(np.maximum(r, g), b)
    delta = v - np.minimum(np.minimum(r, g), b)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(delta == 0, 0.0, delta / v)
        h = np.where(r == v, (g - b) / delta, 0.0)
        h = np.where(g == v, 2.0 + (b - r) / delta, h)
        h = np.where(b == v, 4.0 + (r - g) / delta, h)
    h = np.where(delta == 0, 0.0, (h / 6.0) % 1.0)
    s, v = saturation(s), value(v)
    hi = np.floor(h * 6)
    f = h * 6 - hi
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    hi = hi.astype(np.uint8) % 6
    out = np.stack([np.choose(hi, picks) for picks in ((v, q, p, p, t, v), (t, v, v, q, p, p), (p, p, t, v, v, q))], -1)
    return np.uint8(np.clip(out, 0, 1) * 255)


def test_brightness_and_saturate_equal_the_skimage_round_trip():
    """Both ops are per pixel, so a palette decides: a grid of levels (greys, ties between channels,
    0/1/254/255 edges) plus random colours."""
    levels = np.array(sorted(set(range(0, 256, 5)) | {1, 2, 127, 128, 254}), dtype=np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    rand = np.random.default_rng(0).integers(0, 256, (100_000, 3), dtype=np.uint8)
    x = np.concatenate([grid, rand])[:, None, :]
    for sev in range(1, 6):
        c = [.1, .2, .3, .4, .5][sev - 1]
        ref = _skimage_hsv_roundtrip(x, lambda v: np.clip(v + c, 0, 1), lambda s: s)
        assert np.array_equal(ic.run_impl("brightness", x, sev, None), ref), sev
        a, b = [(0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)][sev - 1]
        ref = _skimage_hsv_roundtrip(x, lambda v: v, lambda s: np.clip(s * a + b, 0, 1))
        assert np.array_equal(ic.run_impl("saturate", x, sev, None), ref), sev


def test_clipped_zoom_equals_scipy_zoom():
    """snow thresholds the zoomed layer, so one ulp can switch a flake on: the zoom must be scipy's
    order-1 arithmetic exactly, including the row it sets to cval when round-off puts the last
    coordinate past the edge (768 rows zoomed 3x)."""
    from scipy.ndimage import zoom

    from corruptions.ops._filters import clipped_zoom

    rng = np.random.default_rng(0)
    for h, w in ((768, 1024), (16, 16), (17, 23), (97, 131)):
        for z in (3, 2, 4, 4.5, 2.5):
            a = rng.normal(0.3, 0.3, (h, w))
            ch0, ch1 = int(np.ceil(h / z)), int(np.ceil(w / z))
            crop = a[(h - ch0) // 2:(h - ch0) // 2 + ch0, (w - ch1) // 2:(w - ch1) // 2 + ch1]
            assert np.array_equal(clipped_zoom(a, z), zoom(crop[..., None], (z, z, 1), order=1)[..., 0]), (h, w, z)


def test_glass_blur_shuffle_equals_the_reference_loop():
    """glass_sources resolves the reference's sequential "swap" loop in one vectorised pass; here
    the loop is run literally on numpy rows (where the tuple swap is a copy) and compared."""
    h, w = 23, 31
    for d in (1, 2, 3, 4):
        x = np.arange(h * w * 3, dtype=np.int64).reshape(h, w, 3)
        rs = np.random.RandomState(d)
        for hh in range(h - d, d, -1):
            for ww in range(w - d, d, -1):
                dx, dy = rs.randint(-d, d, size=(2,))
                x[hh, ww], x[hh + dy, ww + dx] = x[hh + dy, ww + dx], x[hh, ww]
        src = ic.glass_sources((h, w), d, np.random.RandomState(d))
        base = np.arange(h * w * 3, dtype=np.int64).reshape(h * w, 3)
        assert np.array_equal(base[src].reshape(h, w, 3), x)


def test_frost_matches_the_reference_blend_statistics(ic_golden):
    """The textures are procedural, so compare per-channel mean and spread with the golden frost,
    using the photo style the golden run drew (frost5). A 96x128 crop of that photo varies in mean
    with a std of 20.6 grey levels (measured over 300 crops), so the blended mean must agree
    within 2 x b x 20.6, and the texture's spread around a*x within 35%."""
    style = np.random.RandomState(0).randint(5)  # the reference's photo choice under seed 0
    x = _reference_input().astype(np.float32)
    for s, (a, b) in enumerate(ic._FROST, 1):
        tex = frost_texture(x.shape[:2], np.random.default_rng(s), style=style)
        ours = np.clip(a * x + b * tex, 0, 255).astype(np.uint8).astype(float)
        ref = ic_golden[f"frost/{s}"].astype(float)
        assert np.abs(ours.mean((0, 1)) - ref.mean((0, 1))).max() < 2 * b * 20.6
        spread_ours, spread_ref = (ours - a * x).std(), (ref - a * x).std()
        assert abs(spread_ours / spread_ref - 1) < 0.35


def test_pixelate_and_jpeg_equal_pillow():
    from PIL import Image

    rng = np.random.default_rng(0)
    for h, w in ((33, 47), (64, 50), (97, 128)):
        x = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        for s, c in enumerate([0.6, 0.5, 0.4, 0.3, 0.25], 1):
            pil = Image.fromarray(x).resize((int(w * c), int(h * c)), Image.BOX).resize((w, h), Image.NEAREST)
            assert np.array_equal(ic.run_impl("pixelate", x, s, None), np.asarray(pil)), (h, w, s)
        buf = io.BytesIO()
        Image.fromarray(x).save(buf, "JPEG", quality=18)
        assert np.array_equal(ic.run_impl("jpeg_compression", x, 2, None), np.asarray(Image.open(buf)))


# -- RobustSAM ------------------------------------------------------------------------------------

def test_robustsam_deterministic_ops_equal_golden(rs_golden):
    x = _reference_input()
    assert np.array_equal(apply_corruption("robustsam/resampling_blur", x)[0], rs_golden["resampling_blur"])
    random.seed(0)
    assert np.array_equal(rsam.brightness_apply(x, random.uniform(0.6, 0.8)), rs_golden["brightness"])
    random.seed(0)
    assert np.array_equal(rsam.contrast_apply(x, random.uniform(1.6, 1.7)), rs_golden["contrast"])


def _albumentations_color_jitter(x, b, c, s, h, order):
    """albumentations 1.3.1 ColorJitter's uint8 calls, restated (the reference for ours)."""
    for i in order:
        if i == 0:
            x = cv2.LUT(x, np.clip(np.arange(256) * b, 0, 255).astype(np.uint8))
        elif i == 1:
            mean = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).mean()
            x = cv2.LUT(x, np.clip(np.arange(256) * c + mean * (1 - c), 0, 255).astype(np.uint8))
        elif i == 2:
            gray = cv2.cvtColor(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
            x = cv2.addWeighted(x, s, gray, 1 - s, 0)
        else:
            hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)
            hsv[..., 0] = cv2.LUT(hsv[..., 0], np.mod(np.arange(256, dtype=np.int16) + 180 * h, 180).astype(np.uint8))
            x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return x


def _replay_albumentations_draws():
    """random.seed(0), then Compose's and the transform's p draws, as the golden run made them."""
    random.seed(0)
    random.random(), random.random()
    return random


def test_robustsam_color_jitter_against_golden(rs_golden):
    r = _replay_albumentations_draws()
    factors = [r.uniform(0.3, 1.7), r.uniform(0.7, 1.3), r.uniform(0.3, 1.7), r.uniform(-0.7, 0.7)]
    order = [0, 1, 2, 3]
    r.shuffle(order)
    x = _reference_input()
    assert np.array_equal(_albumentations_color_jitter(x, *factors, order), rs_golden["color_jitter"])  # the restatement
    ours = rsam.color_jitter_apply(x, *factors, order).astype(int)
    diff = np.abs(ours - rs_golden["color_jitter"])
    assert diff.max() <= 2 and (diff > 0).mean() < 0.05


@pytest.mark.parametrize("step", range(4))
def test_robustsam_color_jitter_steps_within_one_level(step):
    """Each step alone on a natural image, many factors: brightness and contrast (truncating LUTs as
    one affine pass) and saturation (colour matrix) within 1 grey level, hue exactly equal."""
    x = cv2.resize(_reference_input(), (211, 157), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(step)
    for _ in range(20):
        factors = [1.0, 1.0, 1.0, 0.0]
        factors[step] = [rng.uniform(0.3, 1.7), rng.uniform(0.7, 1.3), rng.uniform(0.3, 1.7), rng.uniform(-0.7, 0.7)][step]
        diff = np.abs(rsam.color_jitter_apply(x, *factors, [step]).astype(int) - _albumentations_color_jitter(x, *factors, [step]))
        assert diff.max() <= (0 if step == 3 else 1), factors
        if step in (0, 1):
            assert (diff > 0).mean() < 0.01, factors


def test_robustsam_compression_equals_golden(rs_golden):
    """RobustSAM's albumentations JPEG-encodes the RGB array as if it were BGR (its luma and chroma
    computed on swapped channels); ours does the same, and gives the golden bytes exactly."""
    quality = _replay_albumentations_draws().randint(5, 10)
    assert np.array_equal(rsam.jpeg_round_trip(_reference_input(), quality), rs_golden["compression"])


def test_robustsam_multiplier_and_noise_levels():
    grey = np.full((64, 64, 3), 100, np.uint8)
    for seed in range(10):
        out, _ = apply_corruption("robustsam/impulse_noise", grey, seed=seed)
        assert len(np.unique(out)) == 1 and 140 <= out[0, 0, 0] <= 150  # one global factor in [1.4, 1.5]
        noisy, _ = apply_corruption("robustsam/gauss_noise", grey, seed=seed)
        assert 15.5 < (noisy.astype(float) - 100).std() < 16.4  # variance 250-260


@pytest.mark.parametrize("name,mean_tol,mad_tol", [("snow", 15, 15), ("fog", 10, 10), ("rain", 10, 10),
                                                   ("ISO_noise", 10, 10), ("elastic_transform", 2, 4),
                                                   ("frosted_glass_blur", 1, 1), ("compression", 3, 4),
                                                   ("zoom_blur", 3, 6)])
def test_robustsam_reimplementations_look_like_the_original(rs_golden, name, mean_tol, mad_tol):
    """imgaug/albumentations draws cannot be replayed, so: the golden output's mean and mean
    absolute change from the input must lie inside our range over 16 seeds, widened by a tolerance."""
    x = _reference_input()
    outs = [apply_corruption(f"robustsam/{name}", x, seed=k, image_id="look")[0].astype(float) for k in range(16)]
    means = [o.mean() for o in outs]
    mads = [np.abs(o - x).mean() for o in outs]
    ref = rs_golden[name].astype(float)
    assert min(means) - mean_tol <= ref.mean() <= max(means) + mean_tol
    assert min(mads) - mad_tol <= np.abs(ref - x).mean() <= max(mads) + mad_tol


def _albumentations_add_fog(img, coef, alpha_coef, points):
    """albumentations 1.3.1 ``add_fog`` for uint8, restated (the reference for draw_haze)."""
    hw = max(int(img.shape[1] // 3 * coef), 10)
    for x, y in points:
        overlay, output = img.copy(), img.copy()
        cv2.circle(overlay, (x + hw // 2, y + hw // 2), hw // 2, (255, 255, 255), -1)
        cv2.addWeighted(overlay, alpha_coef * coef, output, 1 - alpha_coef * coef, 0, output)
        img = output.copy()
    return cv2.blur(img, (hw // 10, hw // 10))


def test_robustsam_fog_haze_equals_albumentations_add_fog():
    """The RandomFog step of fog: its discs blended per bounding box equal albumentations' per-image
    blends, for the photo sizes of the distribution test and a small one (discs past the border)."""
    from corruptions.ops._weather import draw_haze, haze_points

    rng = np.random.default_rng(3)
    for h, w in ((300, 400), (480, 640), (96, 128)):
        x = cv2.resize(_reference_input(), (w, h), interpolation=cv2.INTER_CUBIC)
        for coef in (0.1, 0.137, 0.2):
            points = haze_points((h, w), coef, rng)
            assert points or w < 300
            assert np.array_equal(draw_haze(x, coef, points, 0.08), _albumentations_add_fog(x, coef, 0.08, points))
