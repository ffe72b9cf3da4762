"""The Hugging Face Hub as checkpoint resolution uses it: can a repo be loaded now (cached or
reachable), one file of a repo at a revision, an adapter repo's files, and the commit a revision
points to. Every failure is one HarnessError line; offline (HF_HUB_OFFLINE=1) only the local cache
is used.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlparse

from harness.errors import HarnessError

# What a PEFT adapter repo holds that scoring needs (its weights, config, and the tokenizer and
# chat template a trainer saved with it); anything else in the repo is not downloaded.
ADAPTER_FILES = ["adapter_config.json", "adapter_model.safetensors", "adapter_model.bin", "tokenizer*",
                 "special_tokens_map.json", "added_tokens.json", "vocab.*", "merges.txt", "*.jinja", "README.md"]


def hub_problem(repo_id: str, revision: str | None = None) -> str | None:
    """Why `repo_id` cannot be loaded from the hub right now, or None if it can (cached or reachable).

    Checked up front so that an offline machine gets one clear line at once instead of the hub
    client's retries (about 25 s) and a stack trace.
    """
    from huggingface_hub import constants, try_to_load_from_cache

    for marker in ("config.json", "adapter_config.json"):
        if isinstance(try_to_load_from_cache(repo_id, marker, revision=revision), str):
            return None
    if constants.HF_HUB_OFFLINE:
        at = f" at revision {revision}" if revision else ""
        return f"not in the local Hugging Face cache{at} and HF_HUB_OFFLINE is set"
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError as e:
        return f"not in the local Hugging Face cache and {host} is unreachable ({e.strerror or e})"
    return None


def hub_file(repo_id: str, filename: str, revision: str | None = None) -> Path | None:
    """The local path of `filename` in the hub repo at `revision` (from the cache, or downloaded);
    None when the repo has no such file (or, offline, the cache does not have it)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision))
    except EntryNotFoundError:  # includes "not in the cache" when offline
        return None
    except Exception as e:  # noqa: BLE001 - the hub client's errors are many; each becomes one line
        raise HarnessError(_hub_error(repo_id, revision, e)) from None


def download_adapter(repo_id: str, revision: str | None = None) -> Path:
    """The local snapshot folder of an adapter repo (only the files scoring needs)."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=ADAPTER_FILES))
    except Exception as e:  # noqa: BLE001
        raise HarnessError(_hub_error(repo_id, revision, e)) from None


def commit_of(snapshot_file: Path) -> str:
    """The commit sha of a file the hub client returned (it lives in snapshots/<sha>/)."""
    return snapshot_file.parent.name


def _hub_error(repo_id: str, revision: str | None, e: Exception) -> str:
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    if isinstance(e, RevisionNotFoundError):
        return f"{repo_id}: the hub repo has no revision {revision!r} (a branch, tag or commit sha)"
    if isinstance(e, GatedRepoError):
        return f"{repo_id}: a gated hub repo; accept its terms on the hub and log in (`hf auth login`)"
    if isinstance(e, RepositoryNotFoundError):
        return f"{repo_id}: no such hub repo (or it is private: log in with `hf auth login`)"
    if isinstance(e, LocalEntryNotFoundError):
        return f"{repo_id}: not (completely) in the local Hugging Face cache and the hub cannot be used (offline)"
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return f"{repo_id}: hub error: {first}"
