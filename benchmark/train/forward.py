"""Training forwards of the two families, written on the adapters' own torch modules (the inference
adapters run under inference_mode and return no tokens or features, which training needs).

* GaRA-SAM: the gates are Gumbel-Sigmoid with temperature tau and a straight-through hard decision,
  so the forward uses the same 0/1 gates inference uses while gradients reach the gate layers.
* RobustSAM: the degraded branch is the official ``clear=False`` path (robust token, AOTG, AMFG); the
  clear branch is the official ``clear=True`` path (SAM's output tokens, AMFG heads only). Both return
  the output tokens and the fused mask features the consistency losses compare."""
from __future__ import annotations

import contextlib
from functools import partial
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from .losses import LossParts, recipe_loss


def preprocess(model, images: list[np.ndarray], device) -> torch.Tensor:
    """(B, 3, S, S) normalised model input from square uint8 images, resized as SAM's
    ``ResizeLongestSide.apply_image_torch`` does (bilinear, antialias), which RobustSAM's training uses."""
    size = int(model.image_encoder.img_size)
    x = torch.as_tensor(np.stack(images), device=device).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, (size, size), mode="bilinear", align_corners=False, antialias=True)
    return (x - model.pixel_mean.float()) / model.pixel_std.float()


def embed_prompt(model, item, train_size: int, device):
    """SAM prompt embeddings of one item's points or box, scaled from train_size to the model input."""
    scale = model.image_encoder.img_size / train_size
    points = boxes = None
    if item.points is not None:
        pts = torch.as_tensor(item.points * scale, device=device)[None]
        points = (pts, torch.ones(pts.shape[:2], dtype=torch.int, device=device))
    if item.box is not None:
        boxes = torch.as_tensor(item.box * scale, device=device)[None]
    with torch.no_grad():  # SAM's prompt encoder stays frozen in both recipes
        return model.prompt_encoder(points=points, boxes=boxes, masks=None)


def upscale(model, low_res: torch.Tensor, train_size: int) -> torch.Tensor:
    """Low-res logits -> model input size -> train_size (square inputs carry no padding)."""
    size = int(model.image_encoder.img_size)
    x = F.interpolate(low_res.float(), (size, size), mode="bilinear", align_corners=False)
    return F.interpolate(x, (train_size, train_size), mode="bilinear", align_corners=False)


def targets(items, device) -> torch.Tensor:
    return torch.as_tensor(np.stack([it.mask for it in items]), device=device)[:, None].float()


# GaRA-SAM ------------------------------------------------------------------------------------------

def gumbel_gate(logits: torch.Tensor, tau: float, generator: Optional[torch.Generator]) -> torch.Tensor:
    """Hard 0/1 gate in the forward pass, Gumbel-Sigmoid(tau) gradient in the backward pass. Without a
    generator no noise is drawn: the forward then equals the inference gate ``logit > 0``."""
    z = logits.float()
    if generator is not None:
        u = torch.rand(z.shape, generator=generator, device=z.device).clamp(1e-6, 1 - 1e-6)
        z = z + torch.log(u) - torch.log1p(-u)  # difference of two Gumbels = logistic noise
    soft = torch.sigmoid(z / tau)
    return ((soft > 0.5).float() + soft - soft.detach()).to(logits.dtype)


def _gated_forward(layer, tau: float, generator, x):
    out = F.linear(x, layer.weight, layer.bias)
    summary = x.reshape(x.shape[0], -1, x.shape[-1]).mean(dim=1)
    high = gumbel_gate(layer.gate_space(summary), tau, generator)
    g_low = gumbel_gate(layer.gate_low(summary), tau, generator) * (1 - high)
    g_high = gumbel_gate(layer.gate_high(summary), tau, generator) * high
    shape = (x.shape[0],) + (1,) * (x.dim() - 2)
    low = ((x @ layer.low_a.T) * g_low.view(*shape, -1).to(x.dtype)) @ layer.low_b.T
    hi = ((x @ layer.high_a.T) * g_high.view(*shape, -1).to(x.dtype)) @ layer.high_b.T
    return out + low + hi


@contextlib.contextmanager
def gumbel_gates(model, tau: float, generator: Optional[torch.Generator]):
    """Swap every gated-rank layer's forward for the training one for the duration of the block."""
    layers = [m for m in model.modules() if hasattr(m, "gate_space")]
    if not layers:
        raise TypeError(f"{type(model).__name__} has no gated-rank layers: not a GaRA-SAM model")
    for m in layers:
        m.forward = partial(_gated_forward, m, tau, generator)
    try:
        yield
    finally:
        for m in layers:
            del m.forward  # the class's inference forward is back


def gara_loss(model, items, recipe, generator, device) -> LossParts:
    x = preprocess(model, [it.image for it in items], device)
    with gumbel_gates(model, recipe.gumbel_tau, generator):
        emb = model.image_encoder(x)
    pe = model.prompt_encoder.get_dense_pe()
    logits = []
    for i, it in enumerate(items):
        sparse, dense = embed_prompt(model, it, recipe.train_size, device)
        low, _ = model.mask_decoder(image_embeddings=emb[i:i + 1], image_pe=pe, sparse_prompt_embeddings=sparse,
                                    dense_prompt_embeddings=dense, multimask_output=False)
        logits.append(upscale(model, low, recipe.train_size))
    return recipe_loss(recipe, torch.cat(logits), targets(items, device))


# RobustSAM -----------------------------------------------------------------------------------------

def robust_decode(dec, emb, interm, pe, sparse, dense, clear: bool):
    """Official RobustSAM ``MaskDecoder.forward`` for one image (the adapter's ``decode_branch``):
    (single-mask logits or None on the clear branch, output tokens (B, 4, d), fused mask features)."""
    logits, hs, features = dec.decode_branch(emb, interm, pe, sparse, dense, clear)
    return logits, hs[:, 1:1 + dec.num_mask_tokens, :], features


def robustsam_loss(model, items, recipe, generator, device) -> LossParts:
    n = len(items)
    x = preprocess(model, [it.image for it in items] + [it.clear for it in items], device)
    with torch.no_grad():  # frozen SAM encoder, as the official Sam.forward runs it
        emb, interm = model.image_encoder.forward_interm(x)
    pe = model.prompt_encoder.get_dense_pe()
    dec = model.mask_decoder
    logits, tok, ctok, feat, cfeat = [], [], [], [], []
    for i, it in enumerate(items):  # one image per decoder call, as the official loop (BatchNorm sees batch 1)
        sparse, dense = embed_prompt(model, it, recipe.train_size, device)
        low, t, f = robust_decode(dec, emb[i:i + 1], interm[i:i + 1], pe, sparse, dense, clear=False)
        _, ct, cf = robust_decode(dec, emb[n + i:n + i + 1], interm[n + i:n + i + 1], pe, sparse, dense, clear=True)
        logits.append(upscale(model, low, recipe.train_size))
        tok.append(t), ctok.append(ct), feat.append(f), cfeat.append(cf)
    return recipe_loss(recipe, torch.cat(logits), targets(items, device), torch.cat(tok), torch.cat(ctok),
                       torch.cat(feat), torch.cat(cfeat))


LOSSES = {"gara_sam": gara_loss, "robustsam": robustsam_loss}
