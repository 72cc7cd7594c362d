import os
import tempfile
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# No test may depend on timing: hypothesis's per-example deadline and its too-slow health check are
# wall-clock thresholds, so they are off for every property test (a loaded machine must not fail them).
# Every property test draws from a fixed seed and keeps no example database, so each run checks the
# same cases (docs/reliability_properties.md); explore new ones by hand with --hypothesis-seed=N.
settings.register_profile("robustseg", deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          derandomize=True, database=None)
settings.load_profile("robustseg")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
STATE_DICTS = SHARED / "reference" / "state_dicts"  # official key -> shape lists (state_dicts/README.md)

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# A private datasets cache per test session: load_dataset must read what the test just built,
# never an Arrow cache left by an earlier run at a reused temp path.
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="robustseg-hf-cache-")
# the same for robustseg's own cache (the COCO json index), so tests never touch ~/.cache
os.environ["ROBUSTSEG_CACHE"] = tempfile.mkdtemp(prefix="robustseg-cache-")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared is absent next to the repo ({SHARED}); real-data tests need it")
    return SHARED


@pytest.fixture(scope="session")
def shared_data(shared_dir) -> Path:
    return shared_dir / "data"


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A small synthetic build (6 images, a 3-corruption profile) shared by evaluator tests."""
    from benchmark.data.build import BuildConfig, build

    out = tmp_path_factory.mktemp("tiny") / "ds"
    cfg = BuildConfig(source_options={"num_images": 6, "width": 96, "height": 64},
                      profile="robustsam/gauss_noise,robustsam/brightness,robustsam/resampling_blur",
                      images_per_shard=4, image_format="png")
    assert build(cfg, out).complete
    return out


def official_keys(name: str) -> dict:
    """{key: shape} of the official state dict ``name`` (e.g. ``sam_vit_b``); skips when ../shared is absent."""
    import json

    path = STATE_DICTS / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"official key list {path} is absent (../shared not next to the repo)")
    return {k: tuple(v) for k, v in json.loads(path.read_text())["keys"].items()}


def run_cli(*args, cwd=None, timeout=600):
    """Run the installed console entry point's module in a subprocess."""
    import subprocess

    return subprocess.run([sys.executable, "-m", "benchmark.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)
