"""Corruption engine: every op on odd sizes, inputs users have, determinism, mask alignment, profiles."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from corruptions import ImageFormatError, apply_corruption, get_corruption, list_corruptions, parse_profile, profile
from corruptions.contact_sheet import render_contact_sheet
from corruptions.profiles import IMAGECORRUPTIONS, ROBUSTSAM

REPO = Path(__file__).resolve().parents[1]
ALL = [(c.key, s) for c in list_corruptions() for s in c.severities]


def _image(h: int, w: int) -> np.ndarray:
    """The reference test pattern (gradients, checkerboard, a red disc) at any size, integer-only."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(255 * x) // max(w - 1, 1), (255 * y) // max(h - 1, 1),
                    np.where((x // 8 + y // 8) % 2 == 0, 128, 191)], -1)
    disc = (x - w // 2) ** 2 + (y - h // 2) ** 2 <= (min(h, w) // 3) ** 2
    img[disc] = (230, 40, 40)
    return img.astype(np.uint8), disc


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def test_registry_has_both_profiles_complete():
    assert [k for k, _ in profile("robustsam")] == [f"robustsam/{n}" for n in ROBUSTSAM]
    assert {s for _, s in profile("robustsam")} == {0}
    assert len(ROBUSTSAM) == 15 and len(IMAGECORRUPTIONS) == 19
    ic = profile("imagecorruptions")
    assert ic[:5] == [("imagecorruptions/gaussian_noise", s) for s in range(1, 6)]
    assert [k for k, _ in ic[::5]] == [f"imagecorruptions/{n}" for n in IMAGECORRUPTIONS]
    assert profile("clear") == []
    assert parse_profile("robustsam/snow,gaussian_blur:3") == [("robustsam/snow", 0), ("imagecorruptions/gaussian_blur", 3)]
    geometric = {c.key for c in list_corruptions() if c.geometric}
    assert geometric == {"robustsam/elastic_transform", "robustsam/motion_blur", "imagecorruptions/elastic_transform"}
    assert all(c.description for c in list_corruptions())


@pytest.mark.parametrize("h,w", [(16, 16), (17, 23), (31, 64)])
def test_every_corruption_and_severity_on_odd_sizes(h, w):
    img, disc = _image(h, w)
    masks = np.stack([disc, ~disc])
    for key, sev in ALL:
        out, m = apply_corruption(key, img, masks, severity=sev, seed=3, image_id="odd")
        assert out.dtype == np.uint8 and out.shape == (h, w, 3), key
        assert m.dtype == bool and m.shape == masks.shape, key
        if not get_corruption(key).geometric:
            assert np.array_equal(m, masks), f"{key} is photometric but changed the masks"


def test_inputs_users_have_become_rgb_uint8():
    img, _ = _image(20, 24)
    gray = img[..., 1]
    rgba = np.dstack([img, np.full(img.shape[:2], 7, np.uint8)])
    sixteen = img.astype(np.uint16) * 257
    ref, _ = apply_corruption("imagecorruptions/contrast", img, severity=2)
    for variant in (rgba, sixteen):
        out, _ = apply_corruption("imagecorruptions/contrast", variant, severity=2)
        assert np.array_equal(out, ref)
    out, _ = apply_corruption("imagecorruptions/contrast", gray, severity=2)
    assert out.shape == (20, 24, 3) and (out[..., 0] == out[..., 1]).all()


@pytest.mark.parametrize("bad,match", [
    (np.zeros((15, 40, 3), np.uint8), "below the 16x16 minimum"),
    (np.zeros((20, 20, 2), np.uint8), "expected HxW"),
    (np.zeros((20, 20, 3), np.int32), "unsupported dtype"),
])
def test_bad_input_gets_a_clear_error(bad, match):
    with pytest.raises(ImageFormatError, match=match):
        apply_corruption("robustsam/brightness", bad)


def test_bad_severity_and_masks_are_named():
    img, _ = _image(20, 20)
    with pytest.raises(ValueError, match="severities"):
        apply_corruption("imagecorruptions/fog", img, severity=0)
    with pytest.raises(ValueError, match="do not match"):
        apply_corruption("robustsam/snow", img, np.zeros((1, 19, 20), bool))


_DIGEST_SCRIPT = """
import hashlib, json, sys
import numpy as np
sys.path.insert(0, {repo!r})
from corruptions import apply_corruption, list_corruptions
y, x = np.mgrid[0:37, 0:45]
img = ((np.stack([x * 7919 + y * 104729, x * 31 + y, x ^ y], -1) * 2654435761) % 2**32 >> 24).astype(np.uint8)
out = {{}}
for c in list_corruptions():
    s = c.severities[-1]
    a, _ = apply_corruption(c.key, img, severity=s, seed=11, image_id="img-7")
    out[c.key] = hashlib.sha256(a.tobytes()).hexdigest()
print(json.dumps(out))
"""


def test_same_seed_same_bytes_across_processes_and_different_ids_differ():
    script = _DIGEST_SCRIPT.format(repo=str(REPO))
    runs = [json.loads(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                                      text=True).stdout) for _ in range(2)]
    assert runs[0] == runs[1]
    y, x = np.mgrid[0:37, 0:45]
    img = ((np.stack([x * 7919 + y * 104729, x * 31 + y, x ^ y], -1) * 2654435761) % 2**32 >> 24).astype(np.uint8)
    random_ops = [c for c in list_corruptions() if c.name not in ("resampling_blur", "contrast", "brightness",
                                                                   "pixelate", "jpeg_compression", "defocus_blur",
                                                                   "gaussian_blur", "saturate", "zoom_blur")]
    for c in random_ops:
        s = c.severities[-1]
        a, _ = apply_corruption(c.key, img, severity=s, seed=11, image_id="img-7")
        assert _digest(a) == runs[0][c.key], f"{c.key} differs between this process and a fresh one"
        b, _ = apply_corruption(c.key, img, severity=s, seed=11, image_id="img-8")
        assert _digest(b) != _digest(a), f"{c.key} ignores the image id"


def test_output_does_not_depend_on_opencv_threads():
    img, _ = _image(150, 200)
    before = cv2.getNumThreads()
    try:
        results = {}
        for n in (1, 4):
            cv2.setNumThreads(n)
            results[n] = [_digest(apply_corruption(k, img, severity=s, seed=1, image_id="t")[0]) for k, s in ALL]
    finally:
        cv2.setNumThreads(before)
    assert results[1] == results[4]


@pytest.mark.parametrize("key,sev", [("robustsam/elastic_transform", 0), ("imagecorruptions/elastic_transform", 5)])
def test_geometric_ops_warp_masks_with_the_image(key, sev):
    """The red disc of the warped image must sit where the warped mask says, better than the
    unwarped mask does (the warp moves it by pixels)."""
    img, disc = _image(96, 128)
    for seed in range(3):
        out, (m,) = apply_corruption(key, img, disc[None], severity=sev, seed=seed, image_id="geo")
        red = (out[..., 0] > 200) & (out[..., 1] < 90) & (out[..., 2] < 90)
        inner = cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        outer = cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        assert red[inner].mean() > 0.99, "warped mask interior is not red in the warped image"
        assert not (red & ~outer).any(), "red pixels outside the warped mask"
        assert not np.array_equal(m, disc), "the warp did not move the mask"


def test_frosted_glass_takes_every_pixel_from_its_7x7_neighbourhood():
    h, w = 40, 50
    codes = np.arange(h * w, dtype=np.int64)
    img = np.stack([codes % 256, codes // 256, np.zeros_like(codes)], -1).reshape(h, w, 3).astype(np.uint8)
    out, _ = apply_corruption("robustsam/frosted_glass_blur", img, seed=2, image_id="g")
    src = out[..., 0].astype(np.int64) + 256 * out[..., 1].astype(np.int64)
    sy, sx = np.divmod(src, w)
    yy, xx = np.mgrid[0:h, 0:w]
    assert np.abs(sy - yy).max() <= 3 and np.abs(sx - xx).max() <= 3
    assert (np.abs(sy - yy) == 3).any() and (src != yy * w + xx).mean() > 0.9


def test_contact_sheet_has_one_tile_per_condition(tmp_path):
    img, _ = _image(48, 64)
    prof = profile("robustsam")[:3] + parse_profile("imagecorruptions/fog")
    path = render_contact_sheet(img, prof, tmp_path / "sheet.png", tile=32)
    sheet = cv2.imread(str(path))
    # rows: clear, 3 robustsam ops, fog; columns: up to 5 severities; 14-px label band per tile
    assert sheet.shape == (5 * (32 + 14), 5 * 32, 3)


def test_robustsam_line_filter_is_the_exact_mean_of_the_line():
    """Past 11x11 the motion blur sums the line's shifted copies instead of OpenCV's float DFT:
    compare with integer sums over a reflect-101 pad, rounded half up; smaller kernels are filter2D."""
    from corruptions.ops.robustsam import line_filter, motion_kernel

    img = np.random.default_rng(4).integers(0, 256, (19, 37, 3), dtype=np.uint8)
    rng = np.random.default_rng(5)
    for ksize in (13, 21, 35, 35):
        k, _ = motion_kernel(ksize, rng)
        r = ksize // 2
        pad = np.pad(img.astype(np.int64), ((r, r), (r, r), (0, 0)), mode="reflect")
        taps = np.argwhere(k > 0)
        s = sum(pad[ty:ty + 19, tx:tx + 37] for ty, tx in taps)
        n = len(taps)
        assert np.array_equal(line_filter(img, k), (2 * s + n) // (2 * n)), ksize
    k, _ = motion_kernel(9, rng)
    assert np.array_equal(line_filter(img, k), cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT_101))


def test_robustsam_motion_blur_moves_the_masks_with_the_image():
    """RobustSAM's motion kernel may sit off-centre, which translates the image: the masks must move
    by the same amount. The blurred square's brightness centroid must be within half a pixel of the
    moved mask's centroid (the kernel's mean tap is rounded to whole pixels), and some draws move."""
    img = np.zeros((96, 128, 3), np.uint8)
    img[38:58, 54:74] = 255
    mask = (img[..., 0] > 0)[None]
    moved = 0
    for seed in range(12):
        out, (m,) = apply_corruption("robustsam/motion_blur", img, mask, seed=seed, image_id="shift")
        yy, xx = np.mgrid[0:96, 0:128]
        lum = out[..., 0].astype(float)
        centre_img = np.array([(yy * lum).sum(), (xx * lum).sum()]) / lum.sum()
        centre_mask = np.array([yy[m].mean(), xx[m].mean()])
        assert np.abs(centre_img - centre_mask).max() <= 0.5 + 1e-9, (seed, centre_img, centre_mask)
        moved += not np.array_equal(m, mask[0])
    assert moved >= 6
