"""Publishing a built dataset on the Hugging Face Hub."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from ..jobs import STATE_DIR, load_manifest, sha256_file
from ..errors import BadInputError, MissingInputError


def verify_dataset(dataset_dir: str | os.PathLike) -> dict:
    """The manifest, after checking that every shard it lists exists with its recorded sha256."""
    root = Path(dataset_dir)
    manifest = load_manifest(root)
    for rel, meta in sorted(manifest["files"].items()):
        path = root / rel
        if not path.exists():
            raise MissingInputError(f"{path}: listed in the manifest but missing")
        if sha256_file(path) != meta["sha256"]:
            raise BadInputError(f"{path}: sha256 differs from the manifest (file changed or corrupt)")
    return manifest


def push_to_hub(dataset_dir: str | os.PathLike, repo_id: str, *, token: Optional[str] = None, private: bool = False,
                revision: Optional[str] = None, api=None) -> str:
    """Upload a complete, verified build (card, manifest, shards; not the build state) as a dataset
    repo. Returns the commit URL."""
    from huggingface_hub import HfApi

    verify_dataset(dataset_dir)
    api = api or HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    info = api.upload_folder(folder_path=str(dataset_dir), repo_id=repo_id, repo_type="dataset", revision=revision,
                             ignore_patterns=[f"{STATE_DIR}/*", "**/.*.tmp"],
                             commit_message="Upload robustseg dataset")
    return str(getattr(info, "commit_url", info))
