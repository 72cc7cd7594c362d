"""Publishing a built dataset on the Hugging Face Hub: exactly the files the manifest vouches for.

A dataset folder may hold more than its build wrote (a stray file, a symlink to a private key, a
half-copied shard). ``push`` verifies the manifest, the card and every listed shard, refuses the
folder if it holds anything else (naming it), and then uploads that verified list file by file, so
nothing unlisted can ride along."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Optional

from ..errors import IntegrityError, UnreachableError, UnsafePathError
from ..jobs import DATASET_MANIFEST, STATE_DIR, check_reachable, load_manifest, read_verified_parquet, sha256_file
from .schema import FEATURES

CARD = "README.md"
MANIFEST = "manifest.json"


def _check_card(root: Path, manifest: dict) -> None:
    want = manifest.get("card_sha256")
    if not isinstance(want, str):
        raise IntegrityError(f"{root / MANIFEST} has no 'card_sha256' (built before cards were checksummed); "
                             "rerun the same `robustseg build` command to rewrite the manifest")
    card = root / CARD
    if card.is_symlink() or not card.is_file():
        raise UnsafePathError(f"{card}: the dataset card must be a regular file, not a symlink or missing")
    if sha256_file(card) != want:
        raise IntegrityError(f"{card}: sha256 differs from the manifest's card_sha256 (card edited or corrupt)")


def _unlisted(root: Path, listed: set[str]) -> list[str]:
    """Every entry of ``root`` (except the build state) that is not a listed file or a folder on the
    way to one; symlinks always, even to a listed file."""
    parents = {str(Path(p).parent) for p in listed} | {str(Path(p).parent.parent) for p in listed}
    extra = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        for name in sorted(dirnames):
            rel = (rel_dir / name).as_posix()
            if rel == STATE_DIR:
                continue
            if Path(dirpath, name).is_symlink() or rel not in parents:
                extra.append(rel + "/")
        dirnames[:] = [d for d in dirnames if (rel_dir / d).as_posix() in parents
                       and not Path(dirpath, d).is_symlink()]
        for name in sorted(filenames):
            rel = (rel_dir / name).as_posix()
            if rel not in listed or Path(dirpath, name).is_symlink():
                extra.append(rel)
    return sorted(extra)


def verify_dataset(dataset_dir: str | os.PathLike) -> list[str]:
    """The files to publish (manifest, card, listed shards), after checking each shard against the
    manifest (inside the folder, sha256, schema, rows), the card against its checksum, and that the
    folder holds nothing else. Raises naming the first file that fails or every unlisted one."""
    root = Path(dataset_dir).resolve()
    manifest = load_manifest(root, DATASET_MANIFEST)
    for rel, meta in sorted(manifest["files"].items()):
        read_verified_parquet(root, rel, meta, FEATURES.arrow_schema, str(root / MANIFEST))
    _check_card(root, manifest)
    listed = {MANIFEST, CARD, *manifest["files"]}
    if extra := _unlisted(root, listed):
        raise UnsafePathError(f"{root} holds files its manifest does not list (refusing to upload them): "
                              f"{', '.join(extra[:20])}{' ...' if len(extra) > 20 else ''}; remove them or push a "
                              "clean copy")
    return sorted(listed)


def push_to_hub(dataset_dir: str | os.PathLike, repo_id: str, *, token: Optional[str] = None, private: bool = False,
                revision: Optional[str] = None, api=None) -> str:
    """Upload a complete, verified build (card, manifest, shards; not the build state) as a dataset
    repo, one commit holding exactly the verified files. Returns the commit URL."""
    from huggingface_hub import CommitOperationAdd, HfApi

    root = Path(dataset_dir).resolve()
    files = verify_dataset(root)
    if api is None:
        check_hub_reachable()
        api = HfApi(token=token)
    ops = [CommitOperationAdd(path_in_repo=rel, path_or_fileobj=str(root / rel)) for rel in files]
    try:
        with _stall_timeout(STALL_TIMEOUT):
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            info = api.create_commit(repo_id=repo_id, repo_type="dataset", operations=ops, revision=revision,
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
