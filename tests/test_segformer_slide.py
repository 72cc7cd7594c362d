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
