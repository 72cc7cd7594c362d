"""Full-size SAM-family timing on this machine: robustseg's adapter vs the official modules' own path.

Run by hand: ``python benchmarks/bench_models.py [--model sam_vit_b] [--prompts 16] [--repeats 2]``.
Random weights (no checkpoint needed). The reference is the official ``segment_anything`` pipeline on the
same weights and image: ``Sam.preprocess`` + ``image_encoder`` for encoding, ``prompt_encoder`` +
``mask_decoder`` + ``Sam.postprocess_masks`` for prompts. Reported as times and our/official ratios
(1.00 = no overhead from the adapter). Never run in tests.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="sam_vit_b")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--dtype", default="float32")
    a = ap.parse_args()

    import torch

    from baselines import Prompts, create_model
    from baselines.sam.predictor import resize_longest, scale_coords

    model = create_model(a.model, dtype=a.dtype)
    sam = model.model
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    boxes = np.sort(rng.uniform(0, [640, 480, 640, 480], (a.prompts, 4)).reshape(-1, 2, 2), axis=1)
    boxes = boxes.reshape(-1, 4).astype(np.float32)
    prompts = Prompts(boxes=boxes)

    x = torch.as_tensor(resize_longest(image, 1024)).permute(2, 0, 1)[None].float()

    def official_encode():
        with torch.inference_mode():
            return sam.image_encoder(sam.preprocess(x))

    ours_enc = best_of(lambda: model.set_image(image), a.repeats)
    ref_enc = best_of(official_encode, a.repeats)
    emb = official_encode()
    tb = torch.as_tensor(scale_coords(boxes.reshape(-1, 2, 2), (480, 640), 1024).reshape(-1, 4), dtype=torch.float32)

    def official_prompts():
        with torch.inference_mode():
            sp, de = sam.prompt_encoder(points=None, boxes=tb, masks=None)
            lo, _ = sam.mask_decoder(image_embeddings=emb, image_pe=sam.prompt_encoder.get_dense_pe(),
                                     sparse_prompt_embeddings=sp, dense_prompt_embeddings=de, multimask_output=True)
            return sam.postprocess_masks(lo, x.shape[-2:], (480, 640)) > 0

    ours_pr = best_of(lambda: model.predict(prompts, multimask=True), a.repeats)
    only_sam = a.model.startswith(("sam_", "sum_", "gara_sam_"))  # same decoder as the official SAM path
    print(f"model {a.model} dtype {a.dtype} torch threads {torch.get_num_threads()}")
    print(f"encode: ours {ours_enc:.3f} s/image, official {ref_enc:.3f} s, ratio {ours_enc / ref_enc:.2f}")
    if only_sam:
        ref_pr = best_of(official_prompts, a.repeats)
        print(f"prompts ({a.prompts}, multimask): ours {a.prompts / ours_pr:.1f} prompts/s, "
              f"official {a.prompts / ref_pr:.1f} prompts/s, ratio (time) {ours_pr / ref_pr:.2f}")
    else:
        print(f"prompts ({a.prompts}): ours {a.prompts / ours_pr:.1f} prompts/s (decoder differs from SAM's)")


if __name__ == "__main__":
    main()
