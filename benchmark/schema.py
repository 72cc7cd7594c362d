"""Kept for users who import the schema from its old place (``from benchmark.schema import decode_rle``):
the schema lives in ``benchmark.data.schema``."""
from .data.schema import (FEATURES, OBJECT_FEATURES, SCHEMA_VERSION, ObjectAnn, Sample, decode_image, decode_rle,  # noqa: F401
                          encode_image, encode_rle, mask_bbox, object_record)
