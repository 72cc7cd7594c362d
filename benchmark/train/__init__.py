"""Training recipes for GaRA-SAM, RobustSAM, SUM (its mask-refinement module, then SUM) and RUAC on datasets
robustseg builds (``robustseg train``)."""
from .loop import StepLog, TrainConflictError, TrainResult, train
from .recipes import RECIPES, Recipe, recipe_for

__all__ = ["train", "TrainResult", "StepLog", "TrainConflictError", "Recipe", "RECIPES", "recipe_for"]
