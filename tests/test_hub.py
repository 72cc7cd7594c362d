"""`robustseg push`. The Hub is unreachable from CI, so these tests stop at the huggingface_hub API
call: they check what would be sent, not that an upload succeeds."""
import pytest

from benchmark.data.hub import push_to_hub


class RecordingApi:
    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw))
        return type("Info", (), {"commit_url": f"https://huggingface.co/datasets/{kw['repo_id']}/commit/x"})()


def test_push_sends_the_verified_folder(tiny_dataset):
    api = RecordingApi()
    url = push_to_hub(tiny_dataset, "someone/robustseg-tiny", api=api)
    assert url.endswith("someone/robustseg-tiny/commit/x")
    (name, repo_id, kw), (name2, up) = api.calls
    assert name == "create_repo" and repo_id == "someone/robustseg-tiny" and kw["repo_type"] == "dataset"
    assert up["folder_path"] == str(tiny_dataset) and up["repo_type"] == "dataset"
    assert ".robustseg/*" in up["ignore_patterns"]


def test_push_refuses_a_corrupted_build(tiny_dataset, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_dataset, copy)
    shard = sorted((copy / "data").rglob("*.parquet"))[0]
    shard.write_bytes(shard.read_bytes()[:-10])
    api = RecordingApi()
    with pytest.raises(ValueError, match="sha256 differs"):
        push_to_hub(copy, "someone/x", api=api)
    assert api.calls == []
