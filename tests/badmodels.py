"""Deliberately broken user models, loaded by the evaluator through ``module:Class``."""
import numpy as np

from baselines import Prediction, PromptableSegmenter


class _Base(PromptableSegmenter):
    def __init__(self, device="cpu"):
        self.hw = None

    def set_image(self, image):
        self.hw = image.shape[:2]


class NaNScores(_Base):
    def predict(self, prompts, multimask=False):
        b = len(prompts)
        return Prediction(np.zeros((b, 1, *self.hw), bool), np.full((b, 1), np.nan, np.float32))


class WrongShape(_Base):
    def predict(self, prompts, multimask=False):
        b = len(prompts)
        return Prediction(np.zeros((b, 1, self.hw[0] + 1, self.hw[1]), bool), np.ones((b, 1), np.float32))


class FloatMasks(_Base):
    def predict(self, prompts, multimask=False):
        b = len(prompts)
        return Prediction(np.zeros((b, 1, *self.hw), np.float32), np.ones((b, 1), np.float32))


class RaisesOnSecondImage(_Base):
    """Fine on the first image, raises on every later one."""

    calls = 0

    def set_image(self, image):
        super().set_image(image)
        RaisesOnSecondImage.calls += 1
        if RaisesOnSecondImage.calls > 1:
            raise RuntimeError("out of memory (simulated)")

    def predict(self, prompts, multimask=False):
        b = len(prompts)
        return Prediction(np.ones((b, 1, *self.hw), bool), np.ones((b, 1), np.float32))
