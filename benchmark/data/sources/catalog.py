"""Imports every built-in source module so that its @register_source runs."""
from . import (acdc, ade20k, bbbc038, bdd100k, cityscapes, coco, dram, fashionpedia, folders, fss,  # noqa: F401
               hypersim, ishape, mhp, ndd20, presets, robustsam_release, semantic, streets, synthetic, visor,
               woodscape, ytvis)
