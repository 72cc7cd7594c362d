"""Imports every built-in source module so that its @register_source runs."""
from . import (acdc, bbbc038, bdd100k, cityscapes, coco, dram, folders, fss, mhp, ndd20, presets,  # noqa: F401
               robustsam_release, semantic, streets, synthetic)
