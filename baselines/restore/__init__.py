"""Restoration networks that RobustSAM's tables put in front of SAM (AirNet, URIE), written on torch alone
with the official state-dict names, and the restore-then-segment adapter (``segment``) that registers
``airnet_sam_*`` and ``urie_sam_*``. Importing ``segment`` needs torch and segment-anything."""
