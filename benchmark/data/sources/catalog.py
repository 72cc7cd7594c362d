"""Imports every built-in source module so that its @register_source runs."""
from . import (acdc, bdd100k, cityscapes, coco, folders, fss, mhp, ndd20, presets, robustsam_release,  # noqa: F401
               semantic, streets, synthetic)
