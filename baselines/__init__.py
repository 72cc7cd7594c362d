"""The model contract, the registry and the model adapters. Torch is imported lazily by adapters."""
from .contract import ModelOutputError, Prediction, PromptableSegmenter, Prompts, validate_prediction
from .registry import (ModelArgumentError, ModelInfo, UnknownModelError, create_model, list_models, register_model,
                       resolve_model)

__all__ = [
    "ModelArgumentError", "ModelInfo", "ModelOutputError", "Prediction", "PromptableSegmenter", "Prompts",
    "UnknownModelError",
    "create_model", "list_models", "register_model", "resolve_model", "validate_prediction",
]
