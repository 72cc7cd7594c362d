"""SegFormer-B0..B5 as registered semantic models, with a softmax (C logits) or ECOC (K code bits) head.

Inference is whole-image at the input resolution, logits upsampled bilinearly to it, or with
``crop_size``/``stride`` mmseg's sliding windows (``slide.py``; the official Cityscapes test uses 1024/768).
``test_scale="WxH"`` first resizes the image keeping its ratio to fit W x H, as mmseg's test pipeline
(``img_scale``; DAFormer/ECOCSeg test Cityscapes at 1024x512), and resizes the logits back to the image size
before decoding. Checkpoints load strictly by the
official names (``backbone.*``, ``decode_head.*``); an ECOC model's checkpoint also carries its
codebook (``code_book``), so it decodes with the code it was trained with."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..checkpoints import load_checkpoint
from ..contract import ModelArgumentError, resolve_device
from ..registry import register_model
from ..semantic import SemanticPrediction, SemanticSegmenter
from .configs import CONFIGS, PIXEL_MEAN, PIXEL_STD

#: Cityscapes' 19 evaluation classes in train-id order (cityscapesScripts ``labels.py``); the evaluator
#: checks a model's ``classes`` against the dataset card's, so a mismatch cannot score silently
CITYSCAPES_CLASSES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
                      "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
                      "motorcycle", "bicycle")
HEADS = ("softmax", "ecoc")


def build_network(config: str, num_classes: int, head: str = "softmax", bits: int = 40, codebook_seed: int = 0,
                  codebook_trials: Optional[int] = None, codebook: Optional[np.ndarray] = None):
    """The torch module: SegFormer whose last conv gives C logits, or K bits plus a ``code_book`` buffer
    (``codebook`` as given, else the searched random one)."""
    import torch

    from ..ecoc.codebook import DEFAULT_TRIALS, random_codebook
    from .head import SegFormer

    if config not in CONFIGS:
        raise ValueError(f"unknown SegFormer config {config!r}; valid: {', '.join(CONFIGS)}")
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; valid: {', '.join(HEADS)}")
    if codebook is not None:
        bits = codebook.shape[1]
    net = SegFormer(CONFIGS[config], bits if head == "ecoc" else num_classes)
    if head == "ecoc":
        code = codebook if codebook is not None else \
            random_codebook(num_classes, bits, trials=codebook_trials or DEFAULT_TRIALS, seed=codebook_seed)
        net.register_buffer("code_book", torch.from_numpy(code.astype(np.int64)))
    return net


class SegFormerSegmenter(SemanticSegmenter):
    def __init__(self, config: str = "b0", checkpoint: Optional[str] = None, device: str = "cpu",
                 head: str = "softmax", bits: int = 40, codebook_seed: int = 0,
                 codebook_trials: Optional[int] = None, classes: tuple[str, ...] = CITYSCAPES_CLASSES,
                 crop_size: Optional[int] = None, stride: Optional[int] = None, test_scale: Optional[str] = None):
        import torch

        classes = _check_options(config, head, bits, codebook_seed, codebook_trials, classes)
        self.slide = _slide_option(crop_size, stride)
        self.test_scale = _scale_option(test_scale)
        self.classes, self.head = tuple(classes), head
        self.device = torch.device(resolve_device(device))
        torch.manual_seed(0)  # random-init runs are reproducible
        self.net = build_network(config, len(self.classes), head, bits, codebook_seed, codebook_trials)
        if checkpoint is not None:
            self.checkpoint_sha256 = load_checkpoint(self.net, checkpoint)
        self.net.eval().to(self.device)
        self.mean = torch.tensor(PIXEL_MEAN, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(PIXEL_STD, device=self.device).view(1, 3, 1, 1)

    def predict(self, image: np.ndarray) -> SemanticPrediction:
        import torch
        from torch.nn import functional as F

        from ..ecoc.ops import soft_distance

        from .slide import rescale_size, slide_logits

        h, w = image.shape[:2]
        if self.test_scale is not None:
            import cv2

            image = cv2.resize(image, rescale_size(w, h, self.test_scale), interpolation=cv2.INTER_LINEAR)
        x = torch.from_numpy(np.ascontiguousarray(image)).to(self.device).permute(2, 0, 1)[None].float()
        with torch.inference_mode():
            x = (x - self.mean) / self.std
            out = slide_logits(self.net, x, *self.slide) if self.slide else \
                F.interpolate(self.net(x), size=x.shape[2:], mode="bilinear", align_corners=False)
            if out.shape[2:] != (h, w):  # mmseg's rescale to the original shape
                out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
            if self.head == "ecoc":
                dist = soft_distance(torch.sigmoid(out), self.net.code_book)[0]
                scores, unc = -dist, dist.min(dim=0).values / out.shape[1]
            else:
                scores = out[0]
                unc = 1 - torch.softmax(scores, dim=0).max(dim=0).values
        return SemanticPrediction(scores.float().cpu().numpy(), unc.float().cpu().numpy())


def _factory(size: str, head: str):
    """A registry factory with the size and head fixed and every other keyword spelled out, so the registry
    refuses an option it does not take by name (``check_model_arguments``) instead of a TypeError."""
    def build(config: str = size, checkpoint: Optional[str] = None, device: str = "cpu", bits: int = 40,
              codebook_seed: int = 0, codebook_trials: Optional[int] = None,
              classes: tuple[str, ...] = CITYSCAPES_CLASSES, crop_size: Optional[int] = None,
              stride: Optional[int] = None, test_scale: Optional[str] = None) -> SegFormerSegmenter:
        return SegFormerSegmenter(config, checkpoint, device, head, bits, codebook_seed, codebook_trials, classes,
                                  crop_size, stride, test_scale)

    return build


#: bounds of the ECOC options: K code bits (the paper's K = 40), the codebook search's trials (default
#: 100,000; the search's time grows with them) and its seed (numpy's seed range)
MAX_BITS, MAX_TRIALS, MAX_SEED = 1024, 10_000_000, 2**32 - 1
ECOC_DEFAULTS = {"bits": 40, "codebook_seed": 0, "codebook_trials": None}


def _check_options(config, head: str, bits, codebook_seed, codebook_trials, classes) -> tuple[str, ...]:
    """Every option checked before anything is built, each misuse a ModelArgumentError naming it; returns
    the class names (a comma list from the command line, or a sequence). Why here: the registry checks an
    option's type against its default only, and ``None`` or tuple defaults say nothing."""
    def whole(v, low, high):
        return isinstance(v, int) and not isinstance(v, bool) and low <= v <= high

    name = f"{'ecocseg-' if head == 'ecoc' else ''}segformer"
    if not isinstance(config, str) or config not in CONFIGS:
        raise ModelArgumentError(f"{name}: option config must be one of {', '.join(CONFIGS)}, got {config!r}")
    if head != "ecoc":
        given = {k: v for k, v in zip(ECOC_DEFAULTS, (bits, codebook_seed, codebook_trials)) if v != ECOC_DEFAULTS[k]}
        if given:
            raise ModelArgumentError(f"{name} (softmax head) takes no option {', '.join(given)}: those are the ECOC "
                                     "head's (ecocseg-segformer-*)")
    if not whole(bits, 1, MAX_BITS):
        raise ModelArgumentError(f"{name}: option bits must be a whole number in 1..{MAX_BITS}, got {bits!r}")
    if not whole(codebook_seed, 0, MAX_SEED):
        raise ModelArgumentError(f"{name}: option codebook_seed must be a whole number in 0..{MAX_SEED}, "
                                 f"got {codebook_seed!r}")
    if codebook_trials is not None and not whole(codebook_trials, 1, MAX_TRIALS):
        raise ModelArgumentError(f"{name}: option codebook_trials must be a whole number in 1..{MAX_TRIALS}, "
                                 f"got {codebook_trials!r}")
    names = tuple(c.strip() for c in classes.split(",")) if isinstance(classes, str) else classes
    ok = isinstance(names, (tuple, list)) and 2 <= len(names) <= 255 and len(set(names)) == len(names) and \
        all(isinstance(c, str) and c.strip() for c in names)
    if not ok:
        raise ModelArgumentError(f"{name}: option classes must be 2 to 255 distinct non-empty names (a comma list), "
                                 f"got {classes!r}")
    return tuple(names)


def _slide_option(crop_size, stride) -> Optional[tuple[int, int]]:
    """(crop, stride) of sliding-window inference, or None for whole-image inference."""
    if crop_size is None and stride is None:
        return None
    ok = all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 16384 for v in (crop_size, stride))
    if not ok or stride > crop_size:
        raise ModelArgumentError(f"crop_size={crop_size!r}, stride={stride!r}: sliding windows need both, integers "
                                 "in 1..16384 with stride <= crop_size (e.g. crop_size=1024, stride=768)")
    return crop_size, stride


def _scale_option(text) -> Optional[tuple[int, int]]:
    """``test_scale`` "WxH" as (W, H), or None (inference at the input resolution)."""
    from .slide import parse_scale

    if text is None:
        return None
    scale = parse_scale(text)
    if scale is None:
        raise ModelArgumentError(f"test_scale={text!r}: must be WxH with sides in 1..16384 (e.g. 1024x512, the "
                                 "DAFormer/ECOCSeg Cityscapes test scale)")
    return scale


def _register(config: str) -> None:
    size = config.upper()
    verified = ("parameter names and shapes checked against a key list derived from the official "
                "mix_transformer.py / SegFormerHead definitions (tests/test_segformer.py); no released "
                "checkpoint file was available here to load")
    register_model(f"segformer-{config}", kind="semantic", checkpoint_files=(f"segformer.{config}.*.city.160k.pth",),
                   description=f"SegFormer MiT-{size}, softmax head (NVlabs/SegFormer names)",
                   test_kwargs={"config": "tiny"}, verified=verified)(_factory(config, "softmax"))
    register_model(f"ecocseg-segformer-{config}", kind="semantic", public_weights=False,
                   checkpoint_files=("weights.safetensors of robustseg train ecocseg",),
                   description=f"SegFormer MiT-{size} with an ECOC head (K=40 code bits, ECOCSeg decoding)",
                   test_kwargs={"config": "tiny", "codebook_trials": 64},
                   verified="codebook construction, decoding and bit mining tested; see docs/semantic.md")(
        _factory(config, "ecoc"))


for _c in ("b0", "b1", "b2", "b3", "b4", "b5"):
    _register(_c)
