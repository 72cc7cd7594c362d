"""ECOCSeg's pieces (Woof6/ECOCSeg, NeurIPS 2025): codebooks, code-distance decoding, reliable bit mining,
hybrid pseudo-labels and the ECOC losses. ``codebook`` is numpy; ``ops`` and ``losses`` need torch."""
