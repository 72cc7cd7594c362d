"""Our adapters against the official implementations on the same random weights.

SAM: official ``segment_anything.modeling.Sam.forward`` (normalise, pad, encode, prompt-encode, decode,
postprocess) with the official ``ResizeLongestSide`` coordinate transforms. torchvision cannot be imported
here, so ``segment_anything.utils.transforms`` is imported with a stand-in torchvision whose image functions
refuse to run; the image itself is resized with PIL bilinear, which is what torchvision does for PIL images.
HQ-SAM and RobustSAM: compared when their official packages (``segment_anything_hq``,
``robust_segment_anything``) are importable, skipped otherwise."""
import importlib
import importlib.util
import sys
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")
try:
    from baselines.sam._compat import sam_modeling

    sam_modeling()
except ImportError as e:
    pytest.skip(f"segment-anything not installed: {e}", allow_module_level=True)

from baselines.check import check_image  # noqa: E402
from baselines.contract import Prompts  # noqa: E402
from baselines.sam import sam  # noqa: E402
from baselines.sam.predictor import resize_longest  # noqa: E402


def _official_transforms(monkeypatch):
    try:
        import torchvision  # noqa: F401
    except Exception:
        def refuse(*a, **k):
            raise AssertionError("the test must not call torchvision")

        tv = types.ModuleType("torchvision")
        tf = types.ModuleType("torchvision.transforms")
        fn = types.ModuleType("torchvision.transforms.functional")
        fn.resize, fn.to_pil_image = refuse, refuse
        tv.transforms, tf.functional = tf, fn
        for name, mod in (("torchvision", tv), ("torchvision.transforms", tf), ("torchvision.transforms.functional", fn)):
            monkeypatch.setitem(sys.modules, name, mod)
    name = "segment_anything.utils.transforms"
    monkeypatch.setitem(sys.modules, name, None)  # so the import below is undone after the test
    del sys.modules[name]
    return importlib.import_module(name).ResizeLongestSide


@pytest.mark.parametrize("hw", [(48, 64), (70, 33), (128, 128)])
@pytest.mark.parametrize("multimask", [False, True])
def test_sam_equals_official(monkeypatch, hw, multimask):
    ResizeLongestSide = _official_transforms(monkeypatch)
    ours = sam.make_sam("vit_b", config="tiny")
    official = ours.model  # the official Sam class, same weights
    h, w = hw
    image = check_image(h, w, seed=h)
    rng = np.random.default_rng(w)
    boxes = np.sort(rng.uniform(0, [w, h, w, h], (4, 4)).reshape(4, 2, 2), axis=1).reshape(4, 4).astype(np.float32)
    points = rng.uniform(0, [w, h], (4, 2, 2)).astype(np.float32)
    labels = np.array([[1, 0], [1, 1], [0, 1], [1, 0]], np.int32)
    prev = rng.normal(size=(4, 1, 32, 32)).astype(np.float32)

    tr = ResizeLongestSide(official.image_encoder.img_size)
    resized = resize_longest(image, official.image_encoder.img_size)
    assert resized.shape[:2] == tr.get_preprocess_shape(h, w, official.image_encoder.img_size)
    record = {"image": torch.as_tensor(resized).permute(2, 0, 1).float(), "original_size": (h, w),
              "boxes": torch.as_tensor(tr.apply_boxes(boxes, (h, w))).float(),
              "point_coords": torch.as_tensor(tr.apply_coords(points, (h, w))).float(),
              "point_labels": torch.as_tensor(labels), "mask_inputs": torch.as_tensor(prev)}
    with torch.no_grad():
        ref = official([record], multimask_output=multimask)[0]

    ours.set_image(image)
    pred = ours.predict(Prompts(boxes=boxes, points=points, point_labels=labels, mask_inputs=prev), multimask=multimask)
    np.testing.assert_allclose(pred.logits, ref["low_res_logits"].numpy(), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(pred.scores, ref["iou_predictions"].numpy(), atol=1e-5, rtol=1e-5)
    assert (pred.masks != ref["masks"].numpy()).sum() <= 2  # pixels exactly on the 0-logit boundary may flip
    assert pred.masks.any() and not pred.masks.all()  # the comparison is not between two empty masks


def _optional(package):
    """``package.modeling`` of an official release, imported like our _compat does for segment_anything
    (package ``__init__`` skipped: it needs torchvision); skip when the package is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None:
        pytest.skip(f"official package {package} is not installed")
    if package not in sys.modules:
        pkg = types.ModuleType(package)
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules[package] = pkg
    try:
        return importlib.import_module(f"{package}.modeling")
    except ImportError as e:
        pytest.skip(f"{package}.modeling not importable here: {e}")


def test_robustsam_equals_official():
    """Official encoder and decoder (robust path, clear=False, single mask, one prompt per call as the
    official code requires) on our tiny model's weights; our batched decoder must match the loop."""
    rs = _optional("robust_segment_anything")
    from functools import partial

    from baselines.sam import robustsam
    from baselines.sam.configs import CONFIGS

    cfg = CONFIGS["tiny"]
    ours = robustsam.make_robustsam("vit_b", config="tiny")
    enc = rs.ImageEncoderViT(depth=cfg.depth, embed_dim=cfg.embed_dim, img_size=cfg.img_size, mlp_ratio=4,
                             norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=cfg.num_heads,
                             patch_size=cfg.patch_size, qkv_bias=True, use_rel_pos=True,
                             global_attn_indexes=cfg.global_attn_indexes, window_size=cfg.window_size,
                             out_chans=cfg.prompt_dim).eval()
    enc.load_state_dict(ours.model.image_encoder.state_dict())
    dec = rs.MaskDecoder(transformer=rs.TwoWayTransformer(depth=2, embedding_dim=cfg.prompt_dim,
                                                          mlp_dim=cfg.decoder_mlp_dim, num_heads=cfg.decoder_heads),
                         transformer_dim=cfg.prompt_dim, iou_head_hidden_dim=cfg.iou_hidden_dim,
                         vit_dim=cfg.embed_dim).eval()
    dec.load_state_dict(ours.model.mask_decoder.state_dict())

    image = check_image()
    ours.set_image(image)
    x = torch.as_tensor(resize_longest(image, cfg.img_size)).permute(2, 0, 1)[None].float()
    x = ours.model.preprocess(x)  # official Sam normalise + pad
    boxes = np.array([[5, 5, 40, 30], [20, 10, 60, 45], [0, 0, 63, 47]], np.float32)
    pred = ours.predict(Prompts(boxes=boxes), multimask=True)  # robust token only: K = 1 either way
    with torch.no_grad():
        emb, feats = enc(x)
        for i in range(len(boxes)):
            sparse, dense = ours.model.prompt_encoder(points=None, boxes=ours._tensor(sam_boxes(boxes[i:i + 1], ours)),
                                                      masks=None)
            logits, iou, *_ = dec(emb, ours.model.prompt_encoder.get_dense_pe(), sparse, dense,
                                  multimask_output=False, encoder_features=feats[0][None], clear=False)
            np.testing.assert_allclose(pred.logits[i:i + 1], logits.numpy(), atol=1e-4, rtol=1e-4)
            np.testing.assert_allclose(pred.scores[i:i + 1], iou.numpy(), atol=1e-5)


def test_hq_sam_equals_official():
    """Official MaskDecoderHQ (hq_token_only=True) and encoder intermediates on our tiny model's weights."""
    hq = _optional("segment_anything_hq")
    from baselines.sam import hq_sam
    from baselines.sam.configs import CONFIGS

    cfg = CONFIGS["tiny"]
    ours = hq_sam.make_hq_sam("vit_b", config="tiny")
    dec = hq.MaskDecoderHQ(num_multimask_outputs=3,
                           transformer=hq.TwoWayTransformer(depth=2, embedding_dim=cfg.prompt_dim,
                                                            mlp_dim=cfg.decoder_mlp_dim, num_heads=cfg.decoder_heads),
                           transformer_dim=cfg.prompt_dim, iou_head_depth=3, iou_head_hidden_dim=cfg.iou_hidden_dim,
                           vit_dim=cfg.embed_dim).eval()
    dec.load_state_dict(ours.model.mask_decoder.state_dict())
    ours.set_image(check_image())
    f = ours._features
    boxes = np.array([[5, 5, 40, 30], [20, 10, 60, 45]], np.float32)
    for multimask in (False, True):
        pred = ours.predict(Prompts(boxes=boxes), multimask=multimask)
        with torch.no_grad():
            sparse, dense = ours.model.prompt_encoder(points=None, boxes=ours._tensor(sam_boxes(boxes, ours)), masks=None)
            logits, iou = dec(f["embeddings"], ours.model.prompt_encoder.get_dense_pe(), sparse, dense,
                              multimask_output=multimask, hq_token_only=True, interm_embeddings=f["interm"][None])
        np.testing.assert_allclose(pred.logits, logits.numpy(), atol=1e-4, rtol=1e-4)
        np.testing.assert_allclose(pred.scores, iou.numpy(), atol=1e-5)


def sam_boxes(boxes, adapter):
    from baselines.sam.predictor import scale_coords

    return scale_coords(boxes.reshape(-1, 2, 2), adapter._original_hw, adapter.img_size).reshape(-1, 4)
