"""SegFormer (MiT-B0..B5 encoder, all-MLP decoder) on torch alone, with the parameter names of the
official NVlabs/SegFormer checkpoints, and its ECOC variant (K code bits per pixel, ECOCSeg)."""
