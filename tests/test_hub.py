"""`robustseg push`. The Hub is unreachable from CI, so these tests stop at the huggingface_hub API
call (a recording fake): they check exactly what would be sent, not that an upload succeeds."""
import re
import shutil

import pytest

from benchmark.data.hub import push_to_hub
from benchmark.errors import UserError


class RecordingApi:
    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))

    def create_commit(self, **kw):
        self.calls.append(("create_commit", kw))
        return type("Info", (), {"commit_url": f"https://huggingface.co/datasets/{kw['repo_id']}/commit/x"})()

    def uploaded(self) -> list[str]:
        return sorted(op.path_in_repo for name, *rest in self.calls if name == "create_commit"
                      for op in rest[0]["operations"])


@pytest.fixture
def copy(tiny_dataset, tmp_path):
    dest = tmp_path / "copy"
    shutil.copytree(tiny_dataset, dest)
    return dest


def test_push_sends_exactly_the_verified_files(copy):
    import json

    api = RecordingApi()
    url = push_to_hub(copy, "someone/robustseg-tiny", api=api)
    assert url.endswith("someone/robustseg-tiny/commit/x")
    (name, repo_id, kw), (name2, commit) = api.calls
    assert name == "create_repo" and repo_id == "someone/robustseg-tiny" and kw["repo_type"] == "dataset"
    assert name2 == "create_commit" and commit["repo_type"] == "dataset"
    listed = json.loads((copy / "manifest.json").read_text())["files"]
    assert api.uploaded() == sorted(["README.md", "manifest.json", *listed])  # no .robustseg state


def test_push_refuses_a_corrupted_build(copy):
    shard = sorted((copy / "data").rglob("*.parquet"))[0]
    shard.write_bytes(shard.read_bytes()[:-10])
    api = RecordingApi()
    with pytest.raises(ValueError, match="sha256 differs"):
        push_to_hub(copy, "someone/x", api=api)
    assert api.calls == []


@pytest.mark.parametrize("extra", ["notes.txt", "data/default/extra.parquet", "data/secret/x.bin", ".hidden",
                                   "link-to-outside", "data/default/link-to-listed.parquet", "emptydir/"])
def test_push_refuses_any_unlisted_file_by_name(copy, tmp_path, extra):
    """Anything beside the verified set (stray files, hidden files, new folders, symlinks even to a
    listed shard or outside) is refused by name; nothing is sent."""
    target = copy / extra.rstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if extra.endswith("/"):
        target.mkdir()
    elif extra == "link-to-outside":
        (tmp_path / "id_rsa").write_text("secret")
        target.symlink_to(tmp_path / "id_rsa")
    elif "link-to-listed" in extra:
        target.symlink_to(sorted((copy / "data" / "default").glob("*.parquet"))[0])
    else:
        target.write_text("x")
    api = RecordingApi()
    named = "data/secret/" if extra.startswith("data/secret") else extra  # an unlisted folder is named as a whole
    with pytest.raises(UserError, match=re.escape(named)):
        push_to_hub(copy, "someone/x", api=api)
    assert api.calls == []


@pytest.mark.parametrize("damage", ["edit", "remove", "symlink", "unchecksummed"])
def test_push_checks_the_card(copy, tmp_path, damage):
    import json

    card = copy / "README.md"
    if damage == "edit":
        card.write_text(card.read_text() + "\nmalicious link\n")
    elif damage == "remove":
        card.unlink()
    elif damage == "symlink":
        (tmp_path / "card.md").write_text(card.read_text())
        card.unlink()
        card.symlink_to(tmp_path / "card.md")
    else:
        m = json.loads((copy / "manifest.json").read_text())
        del m["card_sha256"]
        (copy / "manifest.json").write_text(json.dumps(m))
    api = RecordingApi()
    with pytest.raises(UserError, match="README.md|card_sha256"):
        push_to_hub(copy, "someone/x", api=api)
    assert api.calls == []
