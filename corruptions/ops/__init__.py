"""Built-in corruption ops; importing this package registers them."""
from . import robustsam  # noqa: F401
