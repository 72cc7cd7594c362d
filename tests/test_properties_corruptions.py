"""Property-based tests (hypothesis) of every registered corruption and severity: whatever image a
user has (any size from 16 px, thin strips, uint8/uint16/bool/float, gray/RGB/RGBA), the output is
uint8 HxWx3 of the same size, masks keep their shape as bool, equal inputs give equal bytes, the
image never depends on the masks, photometric ops leave masks alone and inputs are never modified.

Examples are drawn from a fixed seed per (corruption, severity), so CI sees the same cases on every
run; set ROBUSTSEG_PROPERTY_SCALE=N to try N times as many (e.g. before a release)."""
from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from corruptions import ImageFormatError, apply_corruption, list_corruptions
from corruptions.apply import MIN_SIDE

ALL = [(c.key, s) for c in list_corruptions() for s in c.severities]
GEOMETRIC = {c.key for c in list_corruptions() if c.geometric}
SCALE = int(os.environ.get("ROBUSTSEG_PROPERTY_SCALE", "1"))
MAX_SIDE = 200  # large enough for every kernel size the ops use, small enough for CI
DTYPES = ("uint8", "uint16", "bool", "float32", "float64")
LAYOUTS = ("hw", 1, 3, 4)  # HxW or HxWxC
CONTENTS = ("noise", "zeros", "max", "gradient")


def _settings(examples: int):
    return settings(max_examples=examples * SCALE, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _stable(*parts) -> int:
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:4], "little")


def make_image(h: int, w: int, layout, dtype: str, content: str, data_seed: int) -> np.ndarray:
    """A test image in the given layout and dtype; ``max`` is the dtype's top value (1.0 for float)."""
    shape = (h, w) if layout == "hw" else (h, w, layout)
    top = {"uint8": 255, "uint16": 65535, "bool": 1}.get(dtype, 1.0)
    if content == "zeros":
        unit = np.zeros(shape)
    elif content == "max":
        unit = np.ones(shape)
    elif content == "gradient":
        y, x = np.mgrid[0:h, 0:w] / max(h + w - 2, 1)
        unit = np.broadcast_to((y + x).reshape(h, w, *([1] if layout != "hw" else [])), shape)
    else:
        unit = np.random.default_rng(data_seed).random(shape)
    if dtype == "bool":
        return unit >= 0.5
    if dtype.startswith("float"):
        return unit.astype(dtype)
    return np.round(unit * top).astype(dtype)


@st.composite
def images_and_masks(draw, min_side: int = MIN_SIDE, max_side: int = MAX_SIDE):
    h = draw(st.integers(min_side, max_side))
    w = draw(st.integers(min_side, max_side))
    img = make_image(h, w, draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(DTYPES)),
                     draw(st.sampled_from(CONTENTS)), draw(st.integers(0, 2**32 - 1)))
    masks = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(("rect", "empty", "full")))
        m = np.full((h, w), kind == "full")
        if kind == "rect":
            y0, y1 = sorted(draw(st.tuples(st.integers(0, h), st.integers(0, h))))
            x0, x1 = sorted(draw(st.tuples(st.integers(0, w), st.integers(0, w))))
            m[y0:y1, x0:x1] = True
        masks.append(m)
    stack = np.array(masks, dtype=bool).reshape(len(masks), h, w)
    return img, stack.astype(np.uint8) if draw(st.booleans()) else stack  # 0/1 integer masks are accepted too


# Cases every op must see whatever hypothesis draws: thin strips, float RGBA, 2-D bool, 16-bit gray.
EXAMPLES = [
    (make_image(16, 200, 3, "uint8", "noise", 1), np.ones((1, 16, 200), bool)),
    (make_image(200, 16, "hw", "bool", "gradient", 2), np.zeros((2, 200, 16), bool)),
    (make_image(17, 33, 4, "float32", "noise", 3), np.eye(17, 33, dtype=bool)[None]),
    (make_image(31, 16, 1, "uint16", "max", 4), np.zeros((0, 31, 16), bool)),
]


@pytest.mark.filterwarnings("error::RuntimeWarning")  # NaN/overflow inside an op is a bug, even if cast away
@pytest.mark.parametrize("key,sev", ALL, ids=[f"{k}:{s}" for k, s in ALL])
def test_any_input_gives_valid_rgb_and_masks(key, sev):
    @seed(_stable(key, sev))
    @_settings(5)
    @given(case=st.one_of(st.sampled_from(EXAMPLES), images_and_masks()), data_seed=st.integers(0, 2**31),
           image_id=st.text(max_size=8))
    def check(case, data_seed, image_id):
        img, masks = case
        img_before, masks_before = img.copy(), masks.copy()
        h, w = img.shape[:2]
        out, out_masks = apply_corruption(key, img, masks, severity=sev, seed=data_seed, image_id=image_id)
        assert out.dtype == np.uint8 and out.shape == (h, w, 3) and out.flags.c_contiguous, (out.dtype, out.shape)
        assert out_masks.dtype == np.bool_ and out_masks.shape == masks.shape
        assert np.array_equal(img, img_before) and np.array_equal(masks, masks_before), "input modified in place"

        again, again_masks = apply_corruption(key, img, masks, severity=sev, seed=data_seed, image_id=image_id)
        assert again.tobytes() == out.tobytes() and np.array_equal(again_masks, out_masks), "not deterministic"

        alone, _ = apply_corruption(key, img, None, severity=sev, seed=data_seed, image_id=image_id)
        assert alone.tobytes() == out.tobytes(), "the corrupted image depends on the masks passed"

        if key in GEOMETRIC:
            # Each mask is warped by the same field, whatever else is in the stack; empty stays empty.
            for i in range(len(masks)):
                _, (single,) = apply_corruption(key, img, masks[i:i + 1], severity=sev, seed=data_seed,
                                                image_id=image_id)
                assert np.array_equal(single, out_masks[i]), f"mask {i} warped differently inside a stack"
                if not masks[i].any():
                    assert not out_masks[i].any(), "an empty mask gained pixels"
        else:
            assert np.array_equal(out_masks, masks.astype(bool)), "photometric corruption changed the masks"

    check()


@_settings(40)
@given(case=images_and_masks(min_side=1, max_side=MIN_SIDE + 8), which=st.sampled_from(ALL))
def test_below_minimum_side_is_the_documented_error(case, which):
    img, masks = case
    key, sev = which
    h, w = img.shape[:2]
    if min(h, w) >= MIN_SIDE:
        out, _ = apply_corruption(key, img, masks, severity=sev)
        assert out.shape == (h, w, 3)
    else:
        with pytest.raises(ImageFormatError, match=rf"{h}x{w} is below the {MIN_SIDE}x{MIN_SIDE} minimum"):
            apply_corruption(key, img, masks, severity=sev)


@_settings(30)
@given(h=st.integers(MIN_SIDE, 40), w=st.integers(MIN_SIDE, 40), which=st.sampled_from(ALL),
       bad=st.sampled_from([np.nan, np.inf, -np.inf, -0.01, 1.01, 255.0]), at=st.integers(0, 10**6))
def test_float_outside_unit_range_is_refused(h, w, which, bad, at):
    img = make_image(h, w, 3, "float64", "noise", at)
    img.flat[at % img.size] = bad
    with pytest.raises(ImageFormatError, match=r"float images must be finite and in \[0, 1\]"):
        apply_corruption(which[0], img, severity=which[1])


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_spatter_without_liquid_leaves_the_image_unchanged():
    """Found by the property test above: when no liquid exceeds the threshold (small images), the
    reference divides 0 by 0 and casts NaN to uint8, a black image. No liquid means no spatter."""
    img = np.full((16, 16, 3), 128, np.uint8)
    out, _ = apply_corruption("imagecorruptions/spatter", img, severity=1, seed=44)
    assert np.array_equal(out, img)
