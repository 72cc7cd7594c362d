"""The ECOCSeg self-training pieces: EMA update, ClassMix masks, pseudo-label weights, one step per head."""
import pytest

torch = pytest.importorskip("torch")

from baselines.ecoc.codebook import random_codebook  # noqa: E402
from baselines.segformer.configs import CONFIGS  # noqa: E402
from baselines.segformer.head import SegFormer  # noqa: E402
from benchmark.train.ecocseg import (SelfTrainConfig, class_mix_masks, ema_alpha, ema_update,  # noqa: E402
                                     pseudo_labels, self_training_loss)


def test_ema_update_is_the_convex_combination():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    wa, wb = a.weight.detach().clone(), b.weight.detach().clone()
    ema_update(a, b, 0.9)
    torch.testing.assert_close(a.weight.detach(), 0.9 * wa + 0.1 * wb)


def test_ema_weight_ramps_up_as_dacs():
    assert [ema_alpha(s, 0.999) for s in (1, 3)] == [0.5, 0.75] and ema_alpha(10**6, 0.999) == 0.999


def test_class_mix_takes_half_the_classes_of_each_source_image():
    lab = torch.tensor([[[0, 1], [2, 3]], [[5, 5], [255, 7]]])
    masks = class_mix_masks(lab, torch.Generator().manual_seed(0))
    for m, lb in zip(masks, lab):
        picked = set(lb[m].tolist())
        present = set(lb.unique().tolist()) - {255}
        assert picked <= present and len(picked) == (len(present) + 1) // 2 and not m[lb == 255].any()


def test_pseudo_label_weight_is_the_confident_fraction():
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 0, 0, 0] = 10.0  # one confident pixel of four
    pl = pseudo_labels(logits, SelfTrainConfig(head="softmax", ignore_top=0, ignore_bottom=0), None)
    assert torch.allclose(pl.weight, torch.full((1, 2, 2), 0.25)) and pl.labels[0, 0, 0] == 0


def test_pseudo_label_crop_zeroes_the_top_and_bottom_rows_after_the_fraction():
    logits = torch.zeros(1, 3, 6, 2)
    logits[0, 0, 2] = 10.0  # the 2 confident pixels of 12 lie in row 2, which the crop keeps
    pl = pseudo_labels(logits, SelfTrainConfig(head="softmax", ignore_top=1, ignore_bottom=2), None)
    want = torch.full((1, 6, 2), 2 / 12)
    want[:, :1] = 0
    want[:, -2:] = 0
    assert torch.allclose(pl.weight, want)
    assert SelfTrainConfig().ignore_top == 15 and SelfTrainConfig().ignore_bottom == 120  # the authors' config


@pytest.mark.parametrize("head", ["softmax", "ecoc"])
def test_one_self_training_step_has_finite_loss_and_gradients(head):
    torch.manual_seed(0)
    cb = torch.from_numpy(random_codebook(4, 8, trials=64).astype("int64")) if head == "ecoc" else None
    net = SegFormer(CONFIGS["tiny"], 8 if head == "ecoc" else 4)
    teacher = SegFormer(CONFIGS["tiny"], 8 if head == "ecoc" else 4).eval()
    x, xt = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
    y = torch.randint(0, 4, (2, 32, 32))
    y[0, :4] = 255
    loss = self_training_loss(net, teacher, x, y, xt, SelfTrainConfig(head=head), cb, torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None and torch.isfinite(p.grad).all()
                                        for n, p in net.named_parameters() if "conv_seg" not in n)


def test_code_level_pseudo_labels_are_the_class_codewords_and_hybrid_keeps_teacher_bits():
    torch.manual_seed(1)
    cb = torch.from_numpy(random_codebook(4, 8, trials=64).astype("int64"))
    logits = torch.randn(1, 8, 3, 3)
    code = pseudo_labels(logits, SelfTrainConfig(bit_targets="code"), cb)
    hybrid = pseudo_labels(logits, SelfTrainConfig(), cb)
    assert torch.equal(code.labels, hybrid.labels)
    assert torch.equal(code.bits, cb.float()[code.labels].permute(0, 3, 1, 2))
    # these logits are not confident enough for any reliable bit: the hybrid target is the teacher's own bits
    assert torch.equal(hybrid.bits, (logits >= 0).float())
