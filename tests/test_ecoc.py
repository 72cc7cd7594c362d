"""ECOCSeg pieces: codebook construction and its minimum distance, code-distance decoding (and its error
correction), Algorithm 1 (reliable bit mining) on hand-worked cases, hybrid pseudo-labels, the losses."""
import itertools
import math

import numpy as np
import pytest

from baselines.ecoc.codebook import min_distance, one_hot_codebook, random_codebook

torch = pytest.importorskip("torch")

from baselines.ecoc.losses import code_targets, ecoc_loss  # noqa: E402
from baselines.ecoc.ops import decode, hybrid_targets, mine_reliable_bits, soft_distance  # noqa: E402


def brute_min_distance(code: np.ndarray) -> int:
    return min(sum(x != y for x, y in zip(a, b)) for a, b in itertools.combinations(code.tolist(), 2))


def test_cityscapes_codebook_has_the_searched_minimum_distance():
    code = random_codebook(19, 40, seed=0)  # the paper's K = 40 for 19 classes, the authors' 100k trials
    assert code.shape == (19, 40) and set(np.unique(code)) <= {0, 1}
    d = brute_min_distance(code)
    assert d == int(min_distance(code))
    # a best-of-100k random code beats a typical random one (mean pairwise distance is K/2 = 20, minima of
    # single draws are ~10-12) and cannot beat the Plotkin bound d <= K N / (2 (N - 1)) = 21.1
    assert 15 <= d <= 21
    assert len({tuple(r) for r in code.tolist()}) == 19
    np.testing.assert_array_equal(code, random_codebook(19, 40, seed=0))


def test_more_trials_never_lower_the_minimum_distance():
    small, large = random_codebook(19, 40, trials=2048, seed=3), random_codebook(19, 40, trials=8192, seed=3)
    assert min_distance(large) >= min_distance(small)
    assert int(min_distance(one_hot_codebook(5))) == 2


def _logits(p):
    p = torch.tensor(p, dtype=torch.float64)
    return torch.log(p / (1 - p))


def test_decoding_corrects_up_to_half_the_minimum_distance():
    code = random_codebook(19, 40, trials=4096, seed=1)
    t = (int(min_distance(code)) - 1) // 2
    rng = np.random.default_rng(0)
    cb = torch.from_numpy(code)
    for c in range(19):
        bits = code[c].copy()
        bits[rng.choice(40, size=t, replace=False)] ^= 1
        logits = torch.from_numpy(np.where(bits == 1, 4.0, -4.0))[None, :, None, None]
        assert int(decode(logits, cb)[0, 0, 0]) == c


CB = torch.tensor([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 1, 1]])


def test_algorithm1_hand_worked_two_candidates():
    # p = (.99, .6, .55, .02): distances 0.98 (class 0), 1.08 (class 1), 3.02 (class 2); bit confidences
    # (.99, .6, .55, .98). n=1: all bits shared, mean .78 <= .95. n=2: classes 0 and 1 agree on bits 0 and 3,
    # mean (.99 + .98) / 2 = .985 > .95 -> reliable bits {0, 3}
    logits = _logits([0.99, 0.6, 0.55, 0.02])[None, :, None, None]
    np.testing.assert_allclose(soft_distance(torch.sigmoid(logits), CB)[0, :, 0, 0].numpy(), [0.98, 1.08, 3.02])
    mined = mine_reliable_bits(logits, CB, threshold=0.95)
    assert int(mined.label) == 0
    assert math.isclose(float(mined.confidence), 0.78, abs_tol=1e-9)
    assert mined.reliable[0, :, 0, 0].tolist() == [1, 0, 0, 1]
    # hybrid targets: bits 0, 3 from class 0's codeword (1, 0); bits 1, 2 from the teacher's own bits (1, 1)
    assert hybrid_targets(logits, CB, mined)[0, :, 0, 0].tolist() == [1, 1, 1, 0]


def test_algorithm1_confident_pixel_keeps_every_bit():
    logits = _logits([0.99, 0.98, 0.03, 0.01])[None, :, None, None]
    mined = mine_reliable_bits(logits, CB, threshold=0.95)
    assert int(mined.label) == 0 and mined.reliable[0, :, 0, 0].tolist() == [1, 1, 1, 1]


def test_algorithm1_stops_with_no_reliable_bit_when_the_shared_part_empties():
    # all bits at .5: means .5 for n=1 and n=2; at n=3 the three codewords share no bit -> exit, M = {0}^K
    logits = torch.zeros(1, 4, 1, 1, dtype=torch.float64)
    assert mine_reliable_bits(logits, CB, threshold=0.95).reliable.sum() == 0
    # with a higher threshold nothing passes either way: still no reliable bit
    assert mine_reliable_bits(_logits([0.99, 0.6, 0.55, 0.02])[None, :, None, None], CB, 0.999).reliable.sum() == 0


def test_losses_match_their_formulas_on_one_pixel():
    cb = torch.tensor([[1, 0, 1], [0, 1, 1]])
    z = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    logits = z[None, :, None, None]
    bits, valid = code_targets(torch.tensor([[[0]]]), cb)
    assert valid.all() and bits[0, :, 0, 0].tolist() == [1, 0, 1]
    loss = ecoc_loss(logits, bits.double(), torch.ones(1, 1, 1, dtype=torch.float64), cb)
    p = 1 / (1 + np.exp(-z.numpy()))
    b = np.array([1, 0, 1])
    bce = np.mean(-(b * np.log(p + 1e-4) + (1 - b) * np.log(1 - p + 1e-4)))
    cos = lambda u, v: float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))  # noqa: E731
    s = [cos(z.numpy(), 2 * np.array(c) - 1.0) for c in cb.tolist()]
    cls = -(s[0] / 0.5 - np.log(np.exp(s[0] / 0.5) + np.exp(s[1] / 0.5)))
    assert math.isclose(float(loss), 5 * (1 - s[0]) + 2 * cls + bce, rel_tol=1e-9)
    ignored, _ = code_targets(torch.tensor([[[255]]]), cb)
    assert ignored.sum() == 0
