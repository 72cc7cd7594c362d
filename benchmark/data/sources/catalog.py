"""Imports every built-in source module so that its @register_source runs."""
from . import (acdc, bdd100k, cityscapes, coco, folders, fss, ndd20, robustsam_release, semantic,  # noqa: F401
               streets, synthetic)
