"""Batched image encoding (set_images + select_image) equals one set_image per image, for every model."""
import numpy as np
import pytest

from baselines import Prompts, create_model, list_models

MODELS = [m for m in list_models("promptable")]


@pytest.mark.parametrize("info", MODELS, ids=[m.name for m in MODELS])
def test_set_images_equals_set_image(info):
    model = create_model(info.name, **info.test_kwargs)
    rng = np.random.default_rng(0)
    images = [(rng.random((60 + 10 * i, 80, 3)) * 255).astype(np.uint8) for i in range(3)]
    prompts = Prompts(boxes=np.array([[5, 5, 40, 40]], np.float32))
    single = []
    for im in images:
        model.set_image(im)
        single.append(model.predict(prompts))
    model.set_images(images)
    for i, want in enumerate(single):
        model.select_image(i)
        got = model.predict(prompts)
        assert got.masks.shape == want.masks.shape
        np.testing.assert_allclose(got.scores, want.scores, atol=1e-5)
        if want.logits is not None:
            np.testing.assert_allclose(got.logits, want.logits, atol=1e-4)
