"""Contract tests generated over the model registry (tiny random-init configurations), the registry's
three ways of adding a model, and the named failures of ``baselines.check`` on broken user classes."""
import importlib.metadata

import numpy as np
import pytest

from baselines import ModelOutputError, Prompts, UnknownModelError, create_model, list_models, resolve_model
from baselines.check import check_image, check_model, format_report, raise_on_failure, ModelCheckError
from baselines.registry import ENTRY_POINT_GROUP

MODELS = [m.name for m in list_models("promptable")]


def test_registry_has_every_family():
    torch_families = {"sam_vit_b", "sam_vit_l", "sam_vit_h", "hq_sam_vit_b", "robustsam_vit_b", "sum_vit_b",
                      "gara_sam_vit_b"}
    pytest.importorskip("torch")
    assert torch_families <= set(MODELS)
    assert "no public weights" in resolve_model("gara_sam_vit_b").weights_status
    assert resolve_model("sam_vit_h").weights_status == "expects sam_vit_h_4b8939.pth"


@pytest.mark.parametrize("name", MODELS)
def test_contract(name):
    results = check_model(name)
    assert all(r.passed for r in results), format_report(results)
    names = {r.name for r in results}
    assert {"determinism", "batch_equals_loop", "output[point, multimask=True]"} <= names


@pytest.mark.parametrize("name", [m for m in MODELS if resolve_model(m).test_kwargs])
def test_multimask_k(name):
    model = create_model(name, **resolve_model(name).test_kwargs)
    model.set_image(check_image())
    p = Prompts(points=np.array([[[20.0, 25.0]]], np.float32), point_labels=np.ones((1, 1), np.int32))
    k = model.predict(p, multimask=True).masks.shape[1]
    assert k == (1 if name.startswith(("hq_sam", "sum_hq_sam", "robustsam")) else 3)  # HQ token only: K = 1
    assert model.predict(p, multimask=False).masks.shape[1] == 1


def test_bfloat16_and_auto_device():
    pytest.importorskip("torch")
    a = create_model("sam_vit_b", config="tiny")
    b = create_model("sam_vit_b", config="tiny", dtype="bfloat16", device="auto")
    img = check_image()
    p = Prompts(boxes=np.array([[10, 10, 40, 40]], np.float32))
    a.set_image(img)
    b.set_image(img)
    pa, pb = a.predict(p, multimask=True), b.predict(p, multimask=True)
    assert pb.scores.dtype == np.float32 and pb.logits.dtype == np.float32
    assert np.abs(pa.logits - pb.logits).max() < 0.1 * np.abs(pa.logits).max() + 0.05
    with pytest.raises(ValueError, match="unknown dtype"):
        create_model("sam_vit_b", config="tiny", dtype="float8")


def test_random_init_is_reproducible_and_leaves_global_rng_alone():
    torch = pytest.importorskip("torch")
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = create_model("sam_vit_b", config="tiny")
    after = torch.rand(1)
    b = create_model("sam_vit_b", config="tiny")
    assert torch.equal(before, after)
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_module_class_spec_and_unknown():
    info = resolve_model("tests.badmodels:NaNScores")
    assert info.name == "tests.badmodels:NaNScores"
    with pytest.raises(UnknownModelError, match="cannot load model class"):
        resolve_model("tests.badmodels:Nope")
    with pytest.raises(UnknownModelError, match="valid names"):
        resolve_model("not_a_model")


def test_entry_point_registration(monkeypatch):
    ep = importlib.metadata.EntryPoint("ep_box_copy", "baselines.weightfree:BoxBaseline", ENTRY_POINT_GROUP)
    broken = importlib.metadata.EntryPoint("ep_broken", "no_such_module_xyz:Model", ENTRY_POINT_GROUP)
    real = importlib.metadata.entry_points

    def fake(**kw):
        return importlib.metadata.EntryPoints([ep, broken]) if kw.get("group") == ENTRY_POINT_GROUP else real(**kw)

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    from baselines import registry

    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))
    with pytest.warns(UserWarning, match="ep_broken"):
        names = [m.name for m in list_models()]
    assert "ep_box_copy" in names and "ep_broken" not in names
    assert create_model("ep_box_copy").name == "ep_box_copy"


@pytest.mark.parametrize("cls,failed", [
    ("NaNScores", "scores.finite"), ("WrongShape", "masks.shape"), ("FloatMasks", "masks.dtype"),
    ("Raises", "RuntimeError: boom"), ("NoisyScores", "determinism"), ("MultimaskK3Always", "K = 1"),
])
def test_check_names_the_failed_check(cls, failed):
    results = check_model(f"tests.test_models_contract:{cls}" if cls in _LOCAL else f"tests.badmodels:{cls}")
    bad = [r for r in results if not r.passed]
    assert bad, format_report(results)
    assert any(failed in r.name or failed in r.detail for r in bad), format_report(results)
    with pytest.raises(ModelCheckError, match=bad[0].name.replace("[", r"\[").replace("]", r"\]")):
        raise_on_failure(results)
    assert issubclass(ModelCheckError, ModelOutputError)


def test_check_reports_build_failure():
    results = check_model("tests.test_models_contract:NotASegmenter")
    assert [r.name for r in results] == ["build"] and not results[0].passed
    assert "not a PromptableSegmenter" in results[0].detail


from tests.badmodels import _Base  # noqa: E402
from baselines import Prediction  # noqa: E402


class Raises(_Base):
    def predict(self, prompts, multimask=False):
        raise RuntimeError("boom")


class NoisyScores(_Base):
    """Uses an unseeded generator: different scores every call."""

    def predict(self, prompts, multimask=False):
        b = len(prompts)
        return Prediction(np.zeros((b, 1, *self.hw), bool), np.random.default_rng().random((b, 1)).astype(np.float32))


class MultimaskK3Always(_Base):
    def predict(self, prompts, multimask=False):
        b = len(prompts)
        return Prediction(np.zeros((b, 3, *self.hw), bool), np.ones((b, 3), np.float32))


class NotASegmenter:
    def __init__(self, device="cpu"):
        pass


_LOCAL = {"Raises", "NoisyScores", "MultimaskK3Always"}


def test_template_passes_the_checks():
    results = check_model("baselines.template:TemplateModel")
    assert all(r.passed for r in results), format_report(results)


def test_wrong_mask_input_size_is_a_clear_error():
    pytest.importorskip("torch")
    m = create_model("sam_vit_b", config="tiny")
    m.set_image(check_image())
    p = Prompts(boxes=np.array([[1, 1, 9, 9]], np.float32), mask_inputs=np.zeros((1, 1, 256, 256), np.float32))
    with pytest.raises(ValueError, match=r"mask_inputs must be \(1, 1, 32, 32\)"):
        m.predict(p)


def test_template_copied_into_a_user_package_runs(tmp_path):
    import shutil

    from .conftest import REPO, run_cli

    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    shutil.copy(REPO / "baselines" / "template.py", tmp_path / "mypkg" / "mymodel.py")
    r = run_cli("check-model", "mypkg.mymodel:TemplateModel", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("check-model", "notapkg.mymodel:TemplateModel", cwd=tmp_path)
    assert r.returncode == 2 and "module 'notapkg' is not on the import path" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def _option_cases() -> list[tuple[str, str]]:
    """(model, option) for one model per distinct factory signature of the whole registry (promptable and
    semantic): every keyword it takes besides checkpoint and device, and an unknown one."""
    import inspect
    import re

    cases, seen = [], set()
    for m in list_models():
        params = inspect.signature(m.factory).parameters
        family = re.sub(r"(_vit_[blh]|_hiera_[a-z+]+|-b\d)$", "", m.name)  # the sizes of a family share options
        if (family, tuple(params)) in seen:
            continue
        seen.add((family, tuple(params)))
        cases += [(m.name, k) for k, p in params.items() if k not in ("checkpoint", "device") and p.kind is not p.VAR_KEYWORD]
        cases.append((m.name, "bogus"))
    return cases


BAD_VALUES = [-1, 0, float("nan"), float("inf"), "../x", "", True, 10**12, 1.5, "a,b"]


@pytest.mark.parametrize("name,option", _option_cases(), ids=lambda v: str(v))
def test_every_model_option_misuse_is_a_user_error(name, option):
    """Generated over the registry: each option given values of every wrong kind (negative, zero, NaN,
    infinite, a path, empty, a boolean, huge, fractional, a comma list) is either a valid value the model
    builds with (tiny size) or refused as a user error naming the option: never another exception, which
    the command line would print as a traceback (found: SegFormer's config, bits, codebook options and
    classes, GaRA-SAM's sam_checkpoint, GrabCut's NaN iterations, SAM families' unknown options)."""
    from baselines.registry import check_model_arguments
    from benchmark.errors import user_error_types

    tiny = dict(resolve_model(name).test_kwargs)
    for value in BAD_VALUES:
        options = tiny | {option: value}
        try:
            check_model_arguments(name, None, options, random_weights=True)
            create_model(name, **options)
        except user_error_types() as e:
            assert option in str(e) or "config" in str(e) or str(value) in str(e), (value, str(e))  # names it
        else:
            assert option != "bogus", f"{name} accepted an unknown option"
