"""SAM 2.1 family for single-image prediction (Hiera trunk + FPN neck + SAM 2 prompt encoder and mask
decoder), written with the official parameter names so official checkpoints load strictly, and RUAC on
top of it. Needs torch only (not the ``sam2`` package, whose install needs ``--no-build-isolation``)."""
