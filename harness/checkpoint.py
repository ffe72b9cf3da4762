"""Checkpoint resolution, done once and in one place.

A `--ckpt` value is one of:
- the alias `smollm2-135m-instruct` (the bundled model, see harness.bundled);
- a PEFT LoRA adapter directory (its adapter_config.json names the base; `--base` overrides);
- a full model directory (config.json + weights);
- a hub id such as `Qwen/Qwen3-1.7B` (needs a reachable hub or a local HF cache);
- an OpenAI-compatible endpoint URL (`http://HOST:PORT/v1`) with `--model-name` (resolve_endpoint).
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from harness.bundled import BUNDLED_ALIAS, bundled_model_dir
from harness.errors import HarnessError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")


@dataclass(frozen=True)
class Checkpoint:
    """What to load: `model` (dir or hub id) plus an optional LoRA `adapter` dir on top."""

    spec: str  # what the user typed
    model: str  # full model dir or hub id (the base, for an adapter)
    adapter: str | None = None
    trust_remote_code: bool = False
    endpoint: str | None = None  # an OpenAI-compatible API serving `model` (then nothing is loaded)
    backend: str = "hf"  # the registered backend that runs it (harness.backends)

    @property
    def has_base(self) -> bool:
        return self.adapter is not None

    @property
    def name(self) -> str:
        """A short, filesystem-safe name for run directories."""
        if self.endpoint:
            return re.sub(r"[^\w.-]+", "_", self.model)[:60]
        tail = Path(self.spec.rstrip("/")).name or "model"
        if self.adapter and tail in {"final", "adapter", "checkpoint"}:
            tail = f"{Path(self.spec.rstrip('/')).parent.name}-{tail}"
        return re.sub(r"[^\w.-]+", "_", tail)[:60]

    def describe(self) -> dict:
        if self.endpoint:
            return {"spec": self.spec, "model": self.model, "adapter": None, "endpoint": self.endpoint,
                    "model_hash": None, "adapter_hash": None}
        return {
            "spec": self.spec,
            "model": self.model,
            "adapter": self.adapter,
            "model_hash": weights_hash(self.model),
            "adapter_hash": weights_hash(self.adapter) if self.adapter else None,
        }


def resolve_checkpoint(
    spec: str, *, base: str | None = None, trust_remote_code: bool = False
) -> Checkpoint:
    if not spec:
        raise HarnessError("--ckpt is empty: give a model dir, an adapter dir, a hub id or 'smollm2-135m-instruct'")
    if spec == BUNDLED_ALIAS:
        return Checkpoint(spec, str(bundled_model_dir()), None, trust_remote_code)
    path = Path(spec)
    if path.is_dir():
        if (path / "adapter_config.json").is_file():
            base_spec = base or _adapter_base(path)
            return Checkpoint(spec, _resolve_base(base_spec, path), str(path.resolve()), trust_remote_code)
        if (path / "config.json").is_file():
            return Checkpoint(spec, str(path.resolve()), None, trust_remote_code)
        raise HarnessError(
            f"{path}: neither a PEFT adapter (adapter_config.json) nor a model (config.json) directory"
        )
    if _looks_like_path(spec) or not _HUB_ID.match(spec):
        raise HarnessError(f"checkpoint not found: {spec} (no such directory; check --ckpt)")
    problem = hub_problem(spec)
    if problem:
        raise HarnessError(f"checkpoint not found: {spec} is not a local directory, and as a hub id: {problem}")
    return Checkpoint(spec, spec, None, trust_remote_code)


def resolve_endpoint(url: str, model_name: str | None) -> Checkpoint:
    """`--ckpt http://HOST:PORT/v1 --model-name NAME`: a model served over the OpenAI API."""
    from harness.openai_client import check_endpoint_url

    url = check_endpoint_url(url, "--ckpt")
    if not model_name:
        raise HarnessError(
            f"--ckpt {url} is an API endpoint: name the served model with --model-name NAME "
            "(the id its /v1/models lists)"
        )
    return Checkpoint(url, model_name, None, False, endpoint=url, backend="openai")


def resolve_model(spec: str, *, base: str | None = None, model_name: str | None = None,
                  trust_remote_code: bool = False, backend: str | None = None) -> Checkpoint:
    """Any `--ckpt` value: an endpoint URL (with model_name) or what resolve_checkpoint takes.
    `backend` picks a registered backend other than the default one (hf; openai for a URL)."""
    from dataclasses import replace

    from harness.openai_client import looks_like_url

    if looks_like_url(spec):
        ckpt = resolve_endpoint(spec, model_name)
    elif model_name:
        raise HarnessError(f"--model-name names a model at an endpoint; --ckpt {spec} is not a URL "
                           "(drop --model-name, or give --ckpt http://HOST:PORT/v1)")
    else:
        ckpt = resolve_checkpoint(spec, base=base, trust_remote_code=trust_remote_code)
    return replace(ckpt, backend=backend) if backend else ckpt


def _adapter_base(adapter_dir: Path) -> str:
    cfg_file = adapter_dir / "adapter_config.json"
    try:
        cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise HarnessError(f"{cfg_file}:{e.lineno}: not valid JSON ({e.msg})") from None
    base = cfg.get("base_model_name_or_path")
    if not base:
        raise HarnessError(f"{cfg_file}: no base_model_name_or_path; pass the base with --base")
    return base


def _resolve_base(base: str, adapter_dir: Path) -> str:
    if base == BUNDLED_ALIAS:
        return str(bundled_model_dir())
    if Path(base).is_dir():
        return str(Path(base).resolve())
    problem = None if _HUB_ID.match(base) and not _looks_like_path(base) else "no such directory"
    problem = problem or hub_problem(base)
    if problem:
        raise HarnessError(
            f"{adapter_dir}: the adapter's base model '{base}' cannot be found ({problem}); "
            "pass --base DIR_OR_HUB_ID"
        )
    return base


def hub_problem(repo_id: str) -> str | None:
    """Why `repo_id` cannot be loaded from the hub right now, or None if it can (cached or reachable).

    Checked up front so that an offline machine gets one clear line at once instead of the hub
    client's retries (about 25 s) and a stack trace.
    """
    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
        return None
    if constants.HF_HUB_OFFLINE:
        return "not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError as e:
        return f"not in the local Hugging Face cache and {host} is unreachable ({e.strerror or e})"
    return None


def _looks_like_path(spec: str) -> bool:
    return spec.startswith((".", "/", "~")) or spec.endswith("/") or Path(spec).suffix != "" and "/" not in spec


def weights_hash(model: str | None) -> str | None:
    """sha256 over a local model's weight files (names and bytes); None for a hub id."""
    if model is None or not Path(model).is_dir():
        return None
    h = hashlib.sha256()
    files = sorted(p for p in Path(model).iterdir() if p.suffix in _WEIGHT_SUFFIXES and p.is_file())
    for p in files:
        h.update(p.name.encode())
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()[:16]
