"""Publishing a built dataset on the Hugging Face Hub."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Optional

from ..errors import BadInputError, MissingInputError, UnreachableError
from ..jobs import STATE_DIR, check_reachable, load_manifest, sha256_file


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
    if api is None:
        check_hub_reachable()
        api = HfApi(token=token)
    try:
        with _stall_timeout(STALL_TIMEOUT):
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            info = api.upload_folder(folder_path=str(dataset_dir), repo_id=repo_id, repo_type="dataset",
                                     revision=revision, ignore_patterns=[f"{STATE_DIR}/*", "**/.*.tmp"],
                                     commit_message="Upload robustseg dataset")
    except _network_errors() as e:
        raise UnreachableError(f"push to {repo_id} failed: {type(e).__name__}: {e}".splitlines()[0]) from e
    return str(getattr(info, "commit_url", info))


#: seconds a Hub request may wait for a connection or between bytes before it fails (the client's default
#: is to wait forever on a server that accepts and then goes silent)
STALL_TIMEOUT = 10.0


@contextlib.contextmanager
def _stall_timeout(seconds: float):
    """huggingface_hub's shared HTTP client with connect/read/write timeouts for the block, then as before."""
    from huggingface_hub import get_session

    client = get_session()
    old = client.timeout
    client.timeout = seconds
    try:
        yield
    finally:
        client.timeout = old


def check_hub_reachable() -> None:
    """Fail in bounded time, with one line, where the Hub cannot be reached (offline mode, no route, a
    refused or silent port): huggingface_hub's own client waits without a timeout."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        raise UnreachableError("cannot push: offline mode is on (HF_HUB_OFFLINE=1); unset it to upload")
    check_reachable(constants.ENDPOINT, "cannot push: the Hugging Face Hub (HF_ENDPOINT)")


def _network_errors() -> tuple[type[BaseException], ...]:
    """The exception types a failed Hub request raises (its HTTP client is imported under varying names)."""
    import importlib

    from huggingface_hub.errors import HfHubHTTPError

    errors: list[type[BaseException]] = [HfHubHTTPError, ConnectionError, TimeoutError]
    for name in ("httpx2", "httpx", "requests"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        errors.append(getattr(mod, "TransportError", None) or getattr(mod, "RequestException"))
    return tuple(errors)
