"""Disk cache of judge replies: a rerun of the same judgments sends no request.

The key is sha256 over the judge model's identity, the prompt messages and the request
settings (temperature, max_tokens). The endpoint URL is not part of it, so the same model
behind another port (a fresh `local:` judge) still hits. One JSON file per key, under
`<dir>/<key[:2]>/<key>.json`, written atomically; only successful replies are stored (an
error or a timeout is retried on the next run). The API key is never part of a key or an entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from harness.models.bundled import cache_root


def default_cache_dir() -> Path:
    return cache_root() / "judge"


def cache_key(model_identity: str, messages: list[dict], settings: dict) -> str:
    payload = json.dumps({"model": model_identity, "messages": messages, "settings": settings},
                         sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()  # lone surrogates: still a key


class JudgeCache:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else default_cache_dir()
        self.write_error: str | None = None  # a cache that cannot be written only costs reruns

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None  # missing or torn: ask again

    def put(self, key: str, entry: dict) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:  # a lone surrogate -> \udXXX
                json.dump(entry, f, ensure_ascii=False)
            os.replace(tmp, path)
        except OSError as e:
            self.write_error = f"{self.root}: {e.strerror or e}"
