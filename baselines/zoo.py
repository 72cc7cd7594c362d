"""Imports every built-in model module so that its @register_model runs. Torch-based families are
registered only when torch and segment-anything are installed (the ``[models]`` extra), as are the
restoration-then-SAM baselines (AirNet+SAM, URIE+SAM); the SAM 2 family (SAM 2.1, RUAC) needs torch alone."""
import importlib.util

from . import weightfree  # noqa: F401

if importlib.util.find_spec("torch") and importlib.util.find_spec("segment_anything"):
    from .sam import gara_sam, hq_sam, robustsam, sam, sum, sum_hq, sum_refined  # noqa: F401
    from .restore import segment as restore_then_sam  # noqa: F401
if importlib.util.find_spec("torch"):
    from .sam2 import models as sam2_models, ruac  # noqa: F401
    from .segformer import model as segformer  # noqa: F401
