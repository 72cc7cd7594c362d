"""The model-family contract, generated over the family registry (``baselines.family``): every registered
family builds at its tiny random-init size, every class in it (modules and adapter) is defined at module
level, ``make`` gives a contract adapter with no checkpoint recorded, and the full-size module built on the
meta device has exactly the official keys and shapes wherever ../shared/reference/state_dicts has a list for
the registered model. A new family registered with ``register_family`` is checked without a new test."""
import pytest

torch = pytest.importorskip("torch")

from baselines import PromptableSegmenter  # noqa: E402
from baselines.checkpoints import load_into  # noqa: E402
from baselines.family import family_models, list_families  # noqa: E402

from .conftest import STATE_DICTS, official_keys  # noqa: E402

FAMILIES = list_families()
MODELS = [(f, v, name) for f in FAMILIES for v, name in family_models(f).items()]


def reference_name(model_name: str) -> str:
    """The key-list file of a registered model: ``sam2.1_hiera_b+`` -> ``sam2_1_hiera_b_plus``."""
    return model_name.replace(".", "_").replace("+", "_plus")


def test_the_torch_families_are_registered():
    assert {"sam", "hq_sam", "robustsam", "sum", "gara_sam", "sam2.1", "ruac"} <= {f.name for f in FAMILIES}


@pytest.mark.parametrize("family,variant,name", MODELS, ids=[m[2] for m in MODELS])
def test_builds_tiny_with_module_level_classes(family, variant, name):
    model = family.build(variant, "tiny")
    classes = {type(m) for m in model.modules()} | {family.adapter}
    local = sorted(c.__qualname__ for c in classes if "<locals>" in c.__qualname__)
    assert not local, f"{name}: classes defined inside functions: {local}"
    adapter = family.make(variant, config="tiny")
    assert isinstance(adapter, family.adapter) and isinstance(adapter, PromptableSegmenter)
    assert adapter.checkpoint_sha256 == ""  # random init records no checkpoint
    # the seeded init makes two builds equal, whatever the caller's RNG state
    torch.manual_seed(123)
    again = family.make(variant, config="tiny").model.state_dict()
    assert all(torch.equal(v, again[k]) for k, v in adapter.model.state_dict().items())


WITH_LIST = [m for m in MODELS if (STATE_DICTS / f"{reference_name(m[2])}.json").is_file()]


@pytest.mark.parametrize("family,variant,name", WITH_LIST, ids=[m[2] for m in WITH_LIST])
def test_full_size_keys_equal_the_official_list(family, variant, name):
    want = official_keys(reference_name(name))
    with torch.device("meta"):
        model = family.build(variant)
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert sorted(set(got) ^ set(want)) == [], name
    assert {k: s for k, s in got.items() if want[k] != s} == {}, name
    load_into(model, {k: torch.empty(s, device="meta") for k, s in want.items()}, where=f"{name} key list")
