"""Built-in corruption ops; importing this package registers them (RobustSAM, then ImageNet-C)."""
from . import robustsam  # noqa: F401  (registered first: list_corruptions() shows it first)
from . import imagenet_c  # noqa: F401
