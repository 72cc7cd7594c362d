"""DAFormer's thing-class ImageNet feature distance in ECOCSeg training: the label downscaling on a
hand-worked case, the distance against a plain computation, the class mask, and a run that starts from an
ImageNet encoder trains with it while that encoder stays frozen."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines.segformer.configs import CONFIGS  # noqa: E402
from baselines.segformer.head import SegFormer  # noqa: E402
from benchmark.errors import UsageError  # noqa: E402
from benchmark.train.feature_distance import FeatureDistance, class_indices, downscale_label_ratio  # noqa: E402


def test_downscale_label_ratio_by_hand():
    """4x4 labels to 2x2 cells (3 classes): a cell's majority class, ignored (255) below the ratio; ignore
    counts as a class of its own, so a mostly-ignored cell stays ignored."""
    labels = torch.tensor([[[0, 0, 1, 1],
                            [0, 1, 1, 1],
                            [2, 2, 255, 255],
                            [2, 0, 255, 1]]])
    got = downscale_label_ratio(labels, 2, 0.75, 3)
    assert got.tolist() == [[[0, 1], [2, 255]]]  # 3/4 of class 0, 3/4 of 1, 3/4 of 2, 3/4 ignored
    assert downscale_label_ratio(labels, 2, 0.8, 3).tolist() == [[[255, 1], [255, 255]]]  # only the pure cell
    with pytest.raises(ValueError, match="larger than the features"):
        downscale_label_ratio(labels, 1, 0.75, 3)


def test_distance_is_the_mean_l2_over_thing_cells_times_lambda():
    torch.manual_seed(0)
    encoder = SegFormer(CONFIGS["tiny"], 4).backbone.eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        reference = encoder(images)[-1]  # (2, C, 2, 2): stride 32
    features = (reference + torch.randn_like(reference)).requires_grad_(True)
    labels = torch.full((2, 64, 64), 0, dtype=torch.long)
    labels[0, :32, :32] = 3  # one thing cell in image 0
    fd = FeatureDistance(encoder, 0.005, torch.tensor([3]), 0.75, 4)
    got = fd(features, images, labels)
    want = 0.005 * torch.linalg.vector_norm(features[0, :, 0, 0] - reference[0, :, 0, 0])
    assert torch.allclose(got, want)
    got.backward()
    assert features.grad[0, :, 0, 0].abs().sum() > 0 and features.grad[1].abs().sum() == 0
    every = FeatureDistance(encoder, 1.0, None, 0.75, 4)(features, images, labels)  # "all": every cell
    assert torch.allclose(every, torch.linalg.vector_norm(features - reference, dim=1).mean())
    none = FeatureDistance(encoder, 0.005, torch.tensor([2]), 0.75, 4)(features, images, labels)
    assert none.item() == 0.0  # no cell of the class: no loss (DAFormer's mean would be NaN, its gradient 0)
    assert FeatureDistance(encoder, 0.005, torch.tensor([0]), 0.75, 4)(reference, images, labels).item() == 0.0


def test_fd_classes_by_name():
    classes = ["road", "car", "person", "sky"]
    assert class_indices("car,person,truck", classes).tolist() == [1, 2]  # truck: a Cityscapes class it lacks
    assert class_indices("all", classes) is None
    with pytest.raises(UsageError, match="fd_classes='cars': .*unknown: cars"):
        class_indices("cars", classes)
    with pytest.raises(UsageError, match="fd_classes='truck'"):
        class_indices("truck", classes)


def test_run_from_an_imagenet_encoder_trains_with_fd_and_keeps_it_frozen(tmp_path):
    import cv2

    from benchmark import cli
    from benchmark.train.ecocseg_run import EcocSegRecipe, _session, train_ecocseg

    rng = np.random.default_rng(5)
    for name in ("src", "tgt"):
        for d in ("images", "labels"):
            (tmp_path / name / d).mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(tmp_path / f"{name}/images/{i:05d}.png"), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
            blocks = rng.choice([7, 26, 24], (2, 2)).astype(np.uint8)  # one class per 32x32 feature cell
            blocks[0, 0] = 26
            cv2.imwrite(str(tmp_path / f"{name}/labels/{i:05d}.png"), np.kron(blocks, np.ones((32, 32), np.uint8)))
        assert cli.main(["build", "--source", "gta5", "--root", str(tmp_path / name), "--profile", "clear",
                         "--out", str(tmp_path / f"ds-{name}")]) == 0  # GTA5 ids 7, 26, 24: road, car, person
    donor = SegFormer(CONFIGS["tiny"], 19)
    torch.nn.init.normal_(donor.backbone.patch_embed1.proj.weight)
    torch.save(donor.backbone.state_dict(), tmp_path / "mit.pth")
    tiny = dict(config="tiny", steps=2, batch_size=1, crop=64, codebook_trials=64, rcs_min_pixels=50, head="softmax",
                warmup=0, lr=0.01, source_scale="none", target_scale="none")  # step 1 moves the encoder
    runs = {}
    for lam in (0.005, 0.0):
        out = tmp_path / f"run-{lam}"
        train_ecocseg(tmp_path / "ds-src", tmp_path / "ds-tgt", out, EcocSegRecipe(fd_lambda=lam, **tiny),
                      init_checkpoint=str(tmp_path / "mit.pth"))
        runs[lam] = [float(r.split(",")[1]) for r in (out / "log.csv").read_text().splitlines()[1:]]
        assert json.loads((out / "train.json").read_text())["identity"]["feature_distance"] is (lam > 0)
    assert runs[0.005] != runs[0.0]  # the distance is part of the loss
    run = _session(EcocSegRecipe(**tiny), 19, "cpu", init_checkpoint=str(tmp_path / "mit.pth"))
    assert run.imnet is not None and not run.imnet.training
    assert all(not p.requires_grad for p in run.imnet.parameters())
    assert all(torch.equal(a, b) for a, b in zip(run.imnet.state_dict().values(), donor.backbone.state_dict().values()))
    assert _session(EcocSegRecipe(**tiny), 19, "cpu").imnet is None  # no ImageNet encoder: no FD
    with pytest.raises(UsageError, match="fd_classes='cars'"):  # checked even where FD is off
        train_ecocseg(tmp_path / "ds-src", tmp_path / "ds-tgt", tmp_path / "typo", EcocSegRecipe(fd_classes="cars", **tiny))
