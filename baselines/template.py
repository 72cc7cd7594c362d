"""Template for adding your own model. Copy this file into your package, fill in the three marked parts,
then check it and evaluate it without touching robustseg:

    robustseg check-model mypkg.mymodel:MyModel            # runs every contract check, names failures
    robustseg eval ... --model mypkg.mymodel:MyModel --checkpoint /path/to/weights.pth

To make ``robustseg models`` list it by name, either decorate the class with ``@register_model(...)`` in a
module that gets imported, or declare an entry point in your package's pyproject.toml:

    [project.entry-points."robustseg.models"]
    my_model = "mypkg.mymodel:MyModel"

Rules the checks enforce: masks (B, K, H, W) bool at the input image size; scores (B, K) finite; K = 1
when ``multimask=False``; the same inputs give the same outputs; predicting a batch of prompts equals
predicting each prompt alone. Load weights only with ``baselines.checkpoints`` (no pickle code runs)."""
from __future__ import annotations

import numpy as np

# absolute imports: this file is meant to be copied into your own package
from baselines.checkpoints import load_checkpoint
from baselines.contract import Prediction, PromptableSegmenter, Prompts, resolve_device


class TemplateModel(PromptableSegmenter):
    """Example: predicts the prompt box (or a disc around each positive point) so the template runs as-is.
    Replace the marked parts with your network."""

    def __init__(self, checkpoint: str | None = None, device: str = "cpu", dtype: str = "float32"):
        self.device = resolve_device(device)
        self.net = None  # (1) build your torch module here, then: self.net.eval().to(self.device)
        if checkpoint is not None:
            self.checkpoint_sha256 = load_checkpoint(self.net, checkpoint)  # strict; raises naming bad keys
        self._image: np.ndarray | None = None

    def set_image(self, image: np.ndarray) -> None:
        # (2) run your image encoder once here and keep the features
        self._image = image

    def predict(self, prompts: Prompts, multimask: bool = False) -> Prediction:
        # (3) decode masks for every prompt of the batch from the stored features
        h, w = self._image.shape[:2]
        yy, xx = np.mgrid[:h, :w]
        masks = np.zeros((len(prompts), 1, h, w), dtype=bool)
        for i in range(len(prompts)):
            if prompts.boxes is not None:
                x0, y0, x1, y1 = prompts.boxes[i]
                masks[i, 0] = (xx >= x0) & (xx <= x1) & (yy >= y0) & (yy <= y1)
            else:
                for (x, y), label in zip(prompts.points[i], prompts.point_labels[i]):
                    if label == 1:
                        masks[i, 0] |= (xx - x) ** 2 + (yy - y) ** 2 <= (0.1 * min(h, w)) ** 2
        return Prediction(masks=masks, scores=np.ones((len(prompts), 1), np.float32))
