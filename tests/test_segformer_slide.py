"""Sliding-window inference (mmseg's ``slide`` mode): the window grid of mmseg's formula, the average of
overlapping windows, equality with whole-image inference when one window covers the image (both heads),
and option errors."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines import create_model  # noqa: E402
from baselines.contract import ModelArgumentError  # noqa: E402
from baselines.segformer.slide import slide_logits, window_starts  # noqa: E402


@pytest.mark.parametrize("size, crop, stride, starts", [
    (2048, 1024, 768, [0, 768, 1024]),  # Cityscapes width with the official crop 1024 / stride 768
    (1024, 1024, 768, [0]),  # Cityscapes height: one window
    (500, 1024, 768, [0]),  # smaller than the window: one window of the image's size
    (10, 4, 3, [0, 3, 6]),
    (11, 4, 3, [0, 3, 6, 7]),
])
def test_window_grid_is_mmseg_s(size, crop, stride, starts):
    assert window_starts(size, crop, stride) == starts


def test_overlapping_windows_are_averaged():
    """Each window's output is its mean value; every pixel must get the mean of the windows covering it,
    computed here by brute force over mmseg's windows."""
    x = torch.arange(11 * 10, dtype=torch.float64).reshape(1, 1, 11, 10)

    def net(c):
        return c.mean().expand(1, 1, *c.shape[2:]).clone()

    got = slide_logits(net, x, crop=4, stride=3)
    want = np.zeros((11, 10))
    count = np.zeros((11, 10))
    for y in (0, 3, 6, 7):
        for xx in (0, 3, 6):
            want[y:y + 4, xx:xx + 4] += x[0, 0, y:y + 4, xx:xx + 4].mean().item()
            count[y:y + 4, xx:xx + 4] += 1
    assert (count > 0).all()
    np.testing.assert_allclose(got[0, 0].numpy(), want / count, rtol=1e-12)


def test_a_pointwise_network_gives_the_same_logits_sliding_or_whole():
    conv = torch.nn.Conv2d(3, 5, 1).double()
    x = torch.randn(2, 3, 23, 31, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(slide_logits(conv, x, crop=8, stride=5), conv(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["segformer-b0", "ecocseg-segformer-b0"])
def test_one_window_covering_the_image_equals_whole_image_inference(name):
    kw = dict(config="tiny") | ({"codebook_trials": 64} if name.startswith("ecoc") else {})
    img = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    whole = create_model(name, **kw).predict(img)
    for crop, stride in ((53, 40), (64, 64)):
        slid = create_model(name, crop_size=crop, stride=stride, **kw).predict(img)
        np.testing.assert_array_equal(slid.scores, whole.scores)
        np.testing.assert_array_equal(slid.uncertainty, whole.uncertainty)
    several = create_model(name, crop_size=32, stride=16, **kw).predict(img)  # 2 x 3 windows
    assert several.scores.shape == whole.scores.shape and not np.array_equal(several.scores, whole.scores)


@pytest.mark.parametrize("opts", [{"crop_size": 512}, {"stride": 8}, {"crop_size": 8, "stride": 16},
                                  {"crop_size": 0, "stride": 0}, {"crop_size": "512", "stride": 256}])
def test_bad_window_options_are_one_error(opts):
    with pytest.raises(ModelArgumentError, match="sliding windows need both"):
        create_model("segformer-b0", config="tiny", **opts)


@pytest.mark.parametrize("name", ["segformer-b0", "ecocseg-segformer-b0"])
def test_test_scale_resizes_the_image_then_the_logits_back(name):
    """mmseg's keep-ratio test resize: 1024x512 halves a Cityscapes frame; the logits come back to its size."""
    import cv2
    from torch.nn import functional as F

    from baselines.ecoc.ops import soft_distance

    kw = dict(config="tiny") | ({"codebook_trials": 64} if name.startswith("ecoc") else {})
    img = np.random.default_rng(1).integers(0, 256, (64, 128, 3), dtype=np.uint8)
    same = create_model(name, test_scale="128x64", **kw)
    np.testing.assert_array_equal(same.predict(img).scores, create_model(name, **kw).predict(img).scores)
    model = create_model(name, test_scale="1024x512", **kw)  # a smaller image is enlarged to fit
    half = create_model(name, test_scale="64x32", **kw)
    got = half.predict(img)
    small = cv2.resize(img, (64, 32), interpolation=cv2.INTER_LINEAR)
    x = (torch.from_numpy(small).permute(2, 0, 1)[None].float() - half.mean) / half.std
    with torch.inference_mode():
        out = F.interpolate(half.net(x), size=(32, 64), mode="bilinear", align_corners=False)
        out = F.interpolate(out, size=(64, 128), mode="bilinear", align_corners=False)
        want = -soft_distance(torch.sigmoid(out), half.net.code_book)[0] if name.startswith("ecoc") else out[0]
    np.testing.assert_allclose(got.scores, want.numpy(), rtol=1e-6, atol=1e-6)
    assert got.scores.shape[1:] == (64, 128) and model.predict(img).scores.shape[1:] == (64, 128)


@pytest.mark.parametrize("scale", ["1024", "0x512", "axb", 1024, "1024x512x3", "\u00b2x512", "9" * 5000 + "x512"])
def test_bad_test_scale_is_one_error(scale):
    with pytest.raises(ModelArgumentError, match="test_scale=.*must be WxH"):
        create_model("segformer-b0", config="tiny", test_scale=scale)
