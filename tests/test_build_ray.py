"""The Ray engine on a local Ray cluster gives the same bytes as the local engine."""
import pytest

from benchmark.data.build import BuildConfig, build

from .test_build import tree_bytes

ray = pytest.importorskip("ray", reason="ray is not installed (pip install -e '.[distributed]')")


@pytest.fixture(scope="module")
def local_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_engine_same_bytes_as_local(tmp_path, local_cluster):
    cfg = BuildConfig(source_options={"num_images": 5, "width": 64, "height": 48},
                      profile="robustsam/gauss_noise,robustsam/brightness", images_per_shard=2)
    build(cfg, tmp_path / "local")
    r = build(cfg, tmp_path / "ray", engine="ray")
    assert r.complete and r.chunks_total == 3
    assert tree_bytes(tmp_path / "ray") == tree_bytes(tmp_path / "local")
