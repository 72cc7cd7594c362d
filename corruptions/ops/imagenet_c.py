"""The 19 ImageNet-C corruptions of the ``imagecorruptions`` package (1.1.2), severities 1-5.

Parameter tables are the package's. Each op reproduces the reference's arithmetic and its order
of draws from a legacy ``RandomState`` (seeded from the corruption rng), so with
``RandomState(0)`` the internal ``IMPLS`` give the reference's output under ``np.random.seed(0)``
(bit-equal, or |d| <= 1 where a float32/OpenCV filter replaces a float64 one). Deviations, each
in docs/corruptions.md: impulse_noise draws from the seeded generator (the reference is unseeded),
frost uses procedural textures. Speed comes from OpenCV filters, separable zooms, LUTs, a vectorised
HSV conversion and glass_blur's shuffle loop resolved by pointer doubling (exactly, not approximately).
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter

from ..registry import register_corruption
from . import _filters as F
from ._frost import frost_texture
from ._hsv import hsv2rgb_planes, rgb2hsv_planes

FAMILY = "imagecorruptions"
SEVERITIES = (1, 2, 3, 4, 5)


# -- noise --------------------------------------------------------------------------------------

def _normal(rs, shape, scale: float) -> np.ndarray:
    """``rs.normal(size=shape, scale=scale)`` bit for bit (legacy normal is 0 + scale * gauss, same
    stream), without its broadcasting pass."""
    n = rs.standard_normal(size=shape)
    n *= scale
    return n


def _gaussian_noise(x, severity, rs):
    c = [.08, .12, 0.18, 0.26, 0.38][severity - 1]
    n = _normal(rs, x.shape, c)
    n += x / 255.  # x + n, in place (addition commutes exactly)
    np.clip(n, 0, 1, out=n)
    n *= 255
    return n


_SHOT_OUT = {c: np.resize((np.clip(np.arange(c + 1) / float(c), 0, 1) * 255).astype(np.uint8), 256)
             for c in (60, 25, 12, 5, 3)}  # a LUT over counts 0..c (entries past c are never read)


def _shot_noise(x, severity, rs):
    c = [60, 25, 12, 5, 3][severity - 1]
    lam = (np.arange(256) / 255.) * c  # the reference's x / 255. * c, per grey level
    k = rs.poisson(lam[x])
    np.minimum(k, c, out=k)  # counts above c clip to 1 anyway
    return cv2.LUT(k.astype(np.uint8), _SHOT_OUT[c])


def _impulse_noise(x, severity, rng):
    """Salt and pepper on each value with probability c, half salt, half pepper (skimage 's&p')."""
    c = [.03, .06, .09, 0.17, 0.27][severity - 1]
    u = rng.random(x.shape, dtype=np.float32)
    out = x.copy()
    out[u < c / 2] = 0
    out[(u >= c / 2) & (u < c)] = 255
    return out


def _speckle_noise(x, severity, rs):
    c = [.15, .2, 0.35, 0.45, 0.6][severity - 1]
    x = x / 255.
    n = _normal(rs, x.shape, c)
    n *= x
    n += x  # x + x * n, in place (multiplication and addition commute exactly)
    np.clip(n, 0, 1, out=n)
    n *= 255
    return n


# -- blur ---------------------------------------------------------------------------------------

def _gaussian_blur(x, severity, rs):
    c = [1, 2, 3, 4, 6][severity - 1]
    y = F.gaussian_blur(x.astype(np.float32) * np.float32(1 / 255.), c, c, cv2.BORDER_REPLICATE)
    return np.clip(y, 0, 1) * 255


@lru_cache(maxsize=None)
def _disk(radius: int, alias_blur: float) -> np.ndarray:
    if radius <= 8:
        L, ksize = np.arange(-8, 8 + 1), (3, 3)
    else:
        L, ksize = np.arange(-radius, radius + 1), (5, 5)
    X, Y = np.meshgrid(L, L)
    d = np.array((X**2 + Y**2) <= radius**2, dtype=np.float32)
    d /= np.sum(d)
    return cv2.GaussianBlur(d, ksize=ksize, sigmaX=alias_blur)


def _defocus_blur(x, severity, rs):
    c = [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)][severity - 1]
    k = _disk(*c)
    xf = x / 255.
    r = k.shape[0] // 2
    if r >= min(x.shape[:2]):  # cv2's reflect-101 border needs the kernel inside the image
        xf = np.pad(xf, ((r, r), (r, r), (0, 0)), mode="reflect")
        return np.clip(cv2.filter2D(xf, cv2.CV_64F, k)[r:-r, r:-r], 0, 1) * 255
    return np.clip(cv2.filter2D(xf, cv2.CV_64F, k), 0, 1) * 255


_GLASS = [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)]


def glass_sources(shape: tuple[int, int], d: int, rs) -> np.ndarray:
    """Flat source index of every pixel after one pass of the reference's shuffling loop.

    The reference walks h = H-d .. d+1 and w = W-d .. d+1 (reverse raster order) drawing
    ``dx, dy = randint(-d, d, size=2)`` and "swaps" ``x[h, w], x[h+dy, w+dx] = x[h+dy, w+dx], x[h, w]``.
    On numpy rows that tuple assignment is a copy (the right side holds views), so each step is
    ``x[p] = x[p + delta]`` read from the current state: the value is original unless ``p + delta``
    was processed earlier (later in raster order), in which case it is that pixel's final value.
    The chains are resolved here by pointer doubling, which gives the loop's result exactly.
    """
    h, w = shape
    n = h * w
    src = np.arange(n, dtype=np.int64)
    hs = np.arange(h - d, d, -1)
    ws = np.arange(w - d, d, -1)
    if hs.size == 0 or ws.size == 0:
        return src
    draws = rs.randint(-d, d, size=(hs.size * ws.size, 2)).reshape(hs.size, ws.size, 2)
    p = (hs[:, None] * w + ws[None, :]).ravel()
    q = ((hs[:, None] + draws[..., 1]) * w + (ws[None, :] + draws[..., 0])).ravel()
    processed = np.zeros(n, dtype=bool)
    processed[p] = True
    chained = processed[q] & (q > p)  # q already final when p is processed
    link = np.arange(n, dtype=np.int64)
    root_src = np.arange(n, dtype=np.int64)
    link[p[chained]] = q[chained]
    root_src[p[~chained]] = q[~chained]
    while True:
        nxt = link[link]
        if np.array_equal(nxt, link):
            break
        link = nxt
    return root_src[link]


def _glass_blur(x, severity, rs):
    sigma, d, iterations = _GLASS[severity - 1]
    h, w = x.shape[:2]
    # scipy here (not cv2): the uint8 truncation below would turn 1-ulp differences into grey levels
    xb = (gaussian_filter(x / 255., (sigma, sigma, 0), mode="nearest") * 255).astype(np.uint8).reshape(h * w, 3)
    for _ in range(iterations):
        xb = xb[glass_sources((h, w), d, rs)]
    y = F.gaussian_blur(xb.reshape(h, w, 3) / 255., sigma, sigma, cv2.BORDER_REPLICATE)
    return np.clip(y, 0, 1) * 255


def _motion_blur(x, severity, rs):
    c = [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)][severity - 1]
    angle = rs.uniform(-45, 45)
    offsets, weights = F.imagenet_c_motion_offsets(x.shape[:2], c[0], c[1], angle)
    k, anchor = F.shift_kernel(offsets, weights, np.float32)
    return np.clip(F.filter_replicate(x.astype(np.float32), k, anchor), 0, 255)


_ZOOMS = [np.arange(1, 1.11, 0.01), np.arange(1, 1.16, 0.01), np.arange(1, 1.21, 0.02),
          np.arange(1, 1.26, 0.02), np.arange(1, 1.31, 0.03)]


def _zoom_blur(x, severity, rs):
    zooms = _ZOOMS[severity - 1]
    h, w = x.shape[:2]
    xf = (x / 255.).astype(np.float32)
    out = np.zeros_like(xf)
    for z in zooms:
        out += F.clipped_zoom(xf, z, keep=(h, w))
    return np.clip((xf + out) / (len(zooms) + 1), 0, 1) * 255


# -- weather ------------------------------------------------------------------------------------

def _snow(x, severity, rs):
    c = [(0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7), (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
         (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65), (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55)][severity - 1]
    h, w = x.shape[:2]
    xf = x.astype(np.float32) / np.float32(255.)
    layer = rs.normal(size=(h, w), loc=c[0], scale=c[1])
    layer = F.clipped_zoom(layer, c[2])
    layer[layer < c[3]] = 0
    layer = np.clip(layer, 0, 1)
    offsets, weights = F.imagenet_c_motion_offsets(layer.shape, c[4], c[5], rs.uniform(-135, -45))
    k, anchor = F.shift_kernel(offsets, weights, np.float64)
    layer = F.filter_replicate(layer, k, anchor)
    layer = (np.round(layer * 255).astype(np.uint8) / 255.)[:h, :w, None]
    gray = cv2.cvtColor(xf, cv2.COLOR_RGB2GRAY)[..., None]
    xf = c[6] * xf + (1 - c[6]) * np.maximum(xf, gray * 1.5 + 0.5)
    return np.clip(xf + layer + np.rot90(layer, k=2), 0, 1) * 255


_FROST = [(1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)]


def _frost(x, severity, rng):
    c = _FROST[severity - 1]
    tex = frost_texture(x.shape[:2], rng)
    tex *= np.float32(c[1])
    out = x.astype(np.float32)
    out *= c[0]
    out += tex  # c0 * x + c1 * tex, in place (addition commutes exactly)
    return np.clip(out, 0, 255, out=out)


def _plasma_fractal(mapsize: int, wibbledecay: float, rs) -> np.ndarray:
    """Diamond-square height map in [0, 1], drawing from ``rs`` in the reference's order."""
    a = np.empty((mapsize, mapsize), dtype=np.float64)
    a[0, 0] = 0
    step = mapsize
    wibble = 100.0
    while step >= 2:
        half = step // 2
        corners = a[0:mapsize:step, 0:mapsize:step]
        sq = corners + np.roll(corners, shift=-1, axis=0)
        sq += np.roll(sq, shift=-1, axis=1)
        a[half:mapsize:step, half:mapsize:step] = sq / 4 + wibble * rs.uniform(-wibble, wibble, sq.shape)
        dr = a[half:mapsize:step, half:mapsize:step]
        ul = a[0:mapsize:step, 0:mapsize:step]
        lt = dr + np.roll(dr, 1, axis=0) + (ul + np.roll(ul, -1, axis=1))
        a[0:mapsize:step, half:mapsize:step] = lt / 4 + wibble * rs.uniform(-wibble, wibble, lt.shape)
        tt = dr + np.roll(dr, 1, axis=1) + (ul + np.roll(ul, -1, axis=0))
        a[half:mapsize:step, 0:mapsize:step] = tt / 4 + wibble * rs.uniform(-wibble, wibble, tt.shape)
        step //= 2
        wibble /= wibbledecay
    a -= a.min()
    return a / a.max()


def _fog(x, severity, rs):
    c = [(1.5, 2), (2., 2), (2.5, 1.7), (2.5, 1.5), (3., 1.4)][severity - 1]
    h, w = x.shape[:2]
    mapsize = 1 << (max(h, w) - 1).bit_length()
    xf = x / 255.
    max_val = xf.max()
    xf += c[0] * _plasma_fractal(mapsize, c[1], rs)[:h, :w][..., None]
    xf *= max_val  # x * max_val / (max_val + c0), in place, left to right as the reference
    xf /= max_val + c[0]
    np.clip(xf, 0, 1, out=xf)
    xf *= 255
    return xf


def _spatter(x, severity, rs):
    c = [(0.65, 0.3, 4, 0.69, 0.6, 0), (0.65, 0.3, 3, 0.68, 0.6, 0), (0.65, 0.3, 2, 0.68, 0.5, 0),
         (0.65, 0.3, 1, 0.65, 1.5, 1), (0.67, 0.4, 1, 0.65, 1.5, 1)][severity - 1]
    xf = x.astype(np.float32) / 255.
    liquid = rs.normal(size=x.shape[:2], loc=c[0], scale=c[1])
    liquid = gaussian_filter(liquid, sigma=c[2], mode="nearest")
    liquid[liquid < c[3]] = 0
    if c[5] == 0:
        liquid = (liquid * 255).astype(np.uint8)
        dist = 255 - cv2.Canny(liquid, 50, 150)
        dist = cv2.distanceTransform(dist, cv2.DIST_L2, 5)
        _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
        dist = cv2.blur(dist, (3, 3)).astype(np.uint8)
        dist = cv2.equalizeHist(dist)
        ker = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
        dist = cv2.filter2D(dist, cv2.CV_8U, ker)
        dist = cv2.blur(dist, (3, 3)).astype(np.float32)
        m = liquid * dist  # float64, one channel; the reference broadcasts it to BGRA
        peak = np.max(m)
        if peak > 0:  # no liquid above threshold (small images): the reference divides 0 by 0 -> black image
            m = m / peak * c[4]
        color = np.array([175 / 255., 238 / 255., 238 / 255.])
        return np.clip(xf + m[..., None] * color, 0, 1) * 255
    m = np.where(liquid > c[3], 1, 0)
    m = gaussian_filter(m.astype(np.float32), sigma=c[4], mode="nearest")
    m[m < 0.8] = 0
    color = np.array([63 / 255., 42 / 255., 20 / 255.]) * m[..., None]
    xf *= (1 - m[..., None])
    return np.clip(xf + color, 0, 1) * 255


# -- digital ------------------------------------------------------------------------------------

def _contrast(x, severity, rs):
    """The reference's float64 arithmetic on the 256 grey levels of each channel (around the
    channel means it computes), applied as one per-channel LUT."""
    c = [0.4, .3, .2, .1, .05][severity - 1]
    means = np.mean(x / 255., axis=(0, 1))
    lut = np.clip((_UNIT[:, None] - means) * c + means, 0, 1) * 255
    return cv2.LUT(x, F.to_uint8_trunc(lut).reshape(256, 1, 3))


_UNIT = np.arange(256) / 255.  # x / 255. per grey level


def _planes(x: np.ndarray) -> list[np.ndarray]:
    return [_UNIT[x[..., i]] for i in range(3)]


def _brightness(x, severity, rs):
    c = [.1, .2, .3, .4, .5][severity - 1]
    h, s, v = rgb2hsv_planes(*_planes(x))
    return np.clip(hsv2rgb_planes(h, s, np.clip(v + c, 0, 1)), 0, 1) * 255


def _saturate(x, severity, rs):
    c = [(0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)][severity - 1]
    h, s, v = rgb2hsv_planes(*_planes(x))
    return np.clip(hsv2rgb_planes(h, np.clip(s * c[0] + c[1], 0, 1), v), 0, 1) * 255


def _jpeg_compression(x, severity, rs):
    c = [25, 18, 15, 10, 7][severity - 1]
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(x, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, c])
    if not ok:
        raise RuntimeError("OpenCV failed to encode the JPEG for jpeg_compression")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR_RGB)


@lru_cache(maxsize=None)
def _box_runs(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Pillow's BOX support for one axis: each output averages the run [a, b) of inputs with equal
    weights. Returns (a, b)."""
    scale = n_in / n_out
    support = 0.5 * max(scale, 1.0)
    a = np.zeros(n_out, dtype=np.intp)
    b = np.zeros(n_out, dtype=np.intp)
    for xx in range(n_out):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), n_in)
        t = (np.arange(xmin, xmax) - center + 0.5) / max(scale, 1.0)
        on = np.flatnonzero((t > -0.5) & (t <= 0.5))
        a[xx], b[xx] = xmin + on[0], xmin + on[-1] + 1
    return a, b


def _box_rows(img: np.ndarray, n_out: int) -> np.ndarray:
    """Pillow's BOX pass along axis 0 of a uint8 array. Runs of one length share one weight, so
    each length is a gather of whole rows and an exact sum s. For runs of n <= 5 (scale >= 0.25)
    Pillow's fixed point ``(s*k + 2**21) >> 22`` equals s/n rounded half up (its error is below
    2e-4, far from the 1/(2n) a non-tie keeps from .5; n = 2, 4 have exact k), which is
    round(s/n + 0.25/n) with a margin of 0.25/n: one float32 convertScaleAbs."""
    a, b = _box_runs(img.shape[0], n_out)
    flat = img.reshape(img.shape[0], -1)
    out = np.empty((n_out, flat.shape[1]), dtype=np.uint8)
    length = b - a
    for n in np.unique(length):
        rows = np.flatnonzero(length == n)
        start = a[rows]
        if n == 1:
            out[rows] = flat[start]
            continue
        s = cv2.add(flat[start], flat[start + 1], dtype=cv2.CV_16U)
        for j in range(2, n):
            cv2.add(s, flat[start + j], dst=s, dtype=cv2.CV_16U)
        out[rows] = cv2.convertScaleAbs(s, alpha=1.0 / n, beta=0.25 / n)
    return out.reshape((n_out,) + img.shape[1:])


def _pixelate(x, severity, rs):
    """Pillow's BOX downscale (horizontal then vertical pass) and NEAREST upscale, in integers; the
    horizontal pass runs on the transposed image, so both passes gather whole rows."""
    c = [0.6, 0.5, 0.4, 0.3, 0.25][severity - 1]
    h, w = x.shape[:2]
    ws, hs = int(w * c), int(h * c)
    small = x
    if ws != w:
        small = cv2.transpose(_box_rows(cv2.transpose(small), ws))
    if hs != h:
        small = _box_rows(small, hs)
    # NEAREST_EXACT samples floor((x + 0.5) * scale), Pillow's nearest rule
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST_EXACT)


def _elastic_field(shape, severity, rs):
    h, w = shape
    sigma = np.array((h, w)) * 0.01
    alpha = [250 * 0.05, 250 * 0.065, 250 * 0.085, 250 * 0.1, 250 * 0.12][severity - 1]
    max_d = h * 0.005
    fields = []
    for _ in range(2):  # dx first, then dy, as the reference draws them
        noise = rs.uniform(-max_d, max_d, size=(h, w))
        fields.append((F.gaussian_blur(noise, sigma[0], sigma[1], cv2.BORDER_REFLECT, truncate=3) * alpha)
                      .astype(np.float32))
    dx, dy = fields
    yy, xx = np.mgrid[0:h, 0:w]
    return yy + dy.astype(np.float64), xx + dx.astype(np.float64)


def _reflect(i: np.ndarray, n: int) -> np.ndarray:
    i = np.mod(i, 2 * n)
    return np.where(i >= n, 2 * n - 1 - i, i)


def _bilinear_reflect(img: np.ndarray, cy: np.ndarray, cx: np.ndarray) -> np.ndarray:
    """scipy.ndimage.map_coordinates(order=1, mode='reflect') per channel, in float64."""
    h, w = img.shape[:2]
    y0 = np.floor(cy).astype(np.intp)
    x0 = np.floor(cx).astype(np.intp)
    fy = (cy - y0)[..., None]
    fx = (cx - x0)[..., None]
    ya, yb = _reflect(y0, h) * w, _reflect(y0 + 1, h) * w
    xa, xb = _reflect(x0, w), _reflect(x0 + 1, w)
    flat = img.reshape(h * w, -1)
    top = np.take(flat, ya + xa, axis=0) * (1 - fx) + np.take(flat, ya + xb, axis=0) * fx
    bot = np.take(flat, yb + xa, axis=0) * (1 - fx) + np.take(flat, yb + xb, axis=0) * fx
    return top * (1 - fy) + bot * fy


def _elastic_transform_full(x, masks, severity, rs):
    cy, cx = _elastic_field(x.shape[:2], severity, rs)
    out = np.clip(_bilinear_reflect(x.astype(np.float32) / np.float32(255.), cy, cx), 0, 1) * 255
    warped = F.remap_masks(masks, cx.astype(np.float32), cy.astype(np.float32), cv2.BORDER_REFLECT)
    return out, warped


def _elastic_transform(x, severity, rs):
    return _elastic_transform_full(x, np.zeros((0,) + x.shape[:2], bool), severity, rs)[0]


# -- registration -------------------------------------------------------------------------------

#: name -> (implementation on uint8 RGB returning float in [0, 255] or uint8, which rng it takes:
#: "legacy" = a RandomState in the reference's draw order, "generator" = the corruption rng)
IMPLS = {
    "gaussian_noise": (_gaussian_noise, "legacy"),
    "shot_noise": (_shot_noise, "legacy"),
    "impulse_noise": (_impulse_noise, "generator"),
    "defocus_blur": (_defocus_blur, "legacy"),
    "glass_blur": (_glass_blur, "legacy"),
    "motion_blur": (_motion_blur, "legacy"),
    "zoom_blur": (_zoom_blur, "legacy"),
    "snow": (_snow, "legacy"),
    "frost": (_frost, "generator"),
    "fog": (_fog, "legacy"),
    "brightness": (_brightness, "legacy"),
    "contrast": (_contrast, "legacy"),
    "elastic_transform": (_elastic_transform, "legacy"),
    "pixelate": (_pixelate, "legacy"),
    "jpeg_compression": (_jpeg_compression, "legacy"),
    "speckle_noise": (_speckle_noise, "legacy"),
    "gaussian_blur": (_gaussian_blur, "legacy"),
    "spatter": (_spatter, "legacy"),
    "saturate": (_saturate, "legacy"),
}

_DESCRIPTIONS = {
    "gaussian_noise": "additive Gaussian noise, sigma 0.08-0.38 of full range",
    "shot_noise": "Poisson photon noise, 60 down to 3 photons per unit intensity",
    "impulse_noise": "salt-and-pepper on 3-27% of values",
    "defocus_blur": "anti-aliased disk kernel, radius 3-10 px",
    "glass_blur": "Gaussian blur, local pixel shuffling (1-4 px), blur again",
    "motion_blur": "one-sided Gaussian motion streak of 21-41 px at a random angle",
    "zoom_blur": "average of centre zooms up to 1.10-1.30x",
    "snow": "motion-blurred snow layer over a brightened, greyed image",
    "frost": "blend with a procedural frost texture (not the package's photos)",
    "fog": "diamond-square plasma fog, contrast reduced",
    "brightness": "HSV value raised by 0.1-0.5",
    "contrast": "contrast scaled to 0.4-0.05 around the channel means",
    "elastic_transform": "smooth random displacement field; masks warped with it",
    "pixelate": "box downscale to 60-25% and nearest upscale",
    "jpeg_compression": "JPEG round trip at quality 25-7",
    "speckle_noise": "multiplicative Gaussian noise, sigma 0.15-0.6",
    "gaussian_blur": "Gaussian blur, sigma 1-6 px",
    "spatter": "water drops (1-3) or mud (4-5) splashes",
    "saturate": "HSV saturation scaled by 0.3, 0.1, 2, 5, 20",
}


def run_impl(name: str, image: np.ndarray, severity: int, rs_or_rng) -> np.ndarray:
    """The op's image output as uint8 with the reference's final ``np.uint8`` (truncation)."""
    out = IMPLS[name][0](image, severity, rs_or_rng)
    if out.dtype != np.uint8:
        out = F.to_uint8_trunc(out)
    return np.ascontiguousarray(out)


def _make(name: str):
    kind = IMPLS[name][1]

    def op(image, masks, severity, rng):
        src = F.legacy_state(rng) if kind == "legacy" else rng
        if name == "elastic_transform":
            out, masks = _elastic_transform_full(image, masks, severity, src)
            return F.to_uint8_trunc(out), masks
        return run_impl(name, image, severity, src), masks

    op.__name__ = name
    op.__doc__ = _DESCRIPTIONS[name]
    return op


for _name in IMPLS:
    register_corruption(FAMILY, _name, severities=SEVERITIES, description=_DESCRIPTIONS[_name],
                        geometric=_name == "elastic_transform")(_make(_name))
