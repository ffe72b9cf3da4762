"""Checkpoint resolution, done once and in one place.

A `--ckpt` value is one of:
- the alias `smollm2-135m-instruct` (the bundled model, see harness.models.bundled);
- a PEFT LoRA adapter directory (its adapter_config.json names the base; `--base` overrides);
- a full model directory (config.json + weights);
- a GGUF file (`model.gguf`, e.g. written by `harness export`): converted once into a model folder
  in the cache (harness.models.gguf_load) and loaded from there;
- a hub id such as `Qwen/Qwen3-1.7B` (needs a reachable hub or a local HF cache), of a full model
  or of a LoRA adapter repo (`user/my-lora`: resolved like an adapter directory, its base scored too);
- an OpenAI-compatible endpoint URL (`http://HOST:PORT/v1`) with `--model-name` (resolve_endpoint).

Hub repos are pinned to the commit their revision (`--revision`, default main) points to when
resolved; that sha is what gets loaded and what the run records.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness.models.bundled import BUNDLED_ALIAS, bundled_model_dir, cache_root
from harness.errors import HarnessError
from harness.models.gguf_load import file_hash, gguf_model_dir
from harness.models.hub import commit_of, download_adapter, hub_file, hub_problem
from harness.models.model_loading import LoadOptions

__all__ = ["Checkpoint", "resolve_checkpoint", "resolve_endpoint", "hub_problem", "weights_hash"]

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
    backend: str = "hf"  # the registered backend that runs it (harness.models.backends)
    load: LoadOptions = field(default_factory=LoadOptions)  # dtype, device_map, 4-bit, ...
    model_revision: str | None = None  # commit sha, when `model` is a hub id
    adapter_revision: str | None = None  # commit sha, when the adapter came from a hub repo (`spec`)
    gguf: str | None = None  # the GGUF file `model` was converted from (`--ckpt model.gguf`)

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

    @property
    def portable_name(self) -> str:
        """How an adapter trained on this model names its base: the alias or hub id, which resolve on
        any machine; an absolute path only when there is nothing else."""
        if self.spec == BUNDLED_ALIAS or _is_bundled_path(self.model):
            return BUNDLED_ALIAS
        return self.model if not Path(self.model).is_dir() else str(Path(self.model).resolve())

    def describe(self) -> dict:
        if self.endpoint:
            return {"spec": self.spec, "model": self.model, "adapter": None, "endpoint": self.endpoint,
                    "model_hash": None, "adapter_hash": None}
        out = {
            "spec": self.spec,
            "model": self.model,
            "adapter": self.adapter,
            "model_hash": weights_hash(self.model),
            "adapter_hash": weights_hash(self.adapter) if self.adapter else None,
            "model_revision": self.model_revision,
            "adapter_revision": self.adapter_revision,
            "load": self.load.describe(),
        }
        if self.gguf:
            from harness.models.gguf_export import read_export_info

            out.update(gguf=self.gguf, gguf_hash=file_hash(self.gguf), exported_from=read_export_info(self.gguf))
        return out


def resolve_checkpoint(
    spec: str, *, base: str | None = None, trust_remote_code: bool = False, load: LoadOptions | None = None
) -> Checkpoint:
    load = load or LoadOptions()
    if not spec:
        raise HarnessError("--ckpt is empty: give a model dir, an adapter dir, a hub id or 'smollm2-135m-instruct'")
    if spec == BUNDLED_ALIAS or Path(spec).is_dir():
        if load.revision:
            raise HarnessError(f"--revision {load.revision}: {spec} is local; a revision applies to a hub repo only")
    if spec == BUNDLED_ALIAS:
        return Checkpoint(spec, str(bundled_model_dir()), None, trust_remote_code, load=load)
    path = Path(spec)
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise HarnessError(f"--ckpt {spec}: a file; give a model or adapter directory, a .gguf file, a hub id "
                               f"or '{BUNDLED_ALIAS}'")
        if load.revision:
            raise HarnessError(f"--revision {load.revision}: {spec} is local; a revision applies to a hub repo only")
        model_dir = gguf_model_dir(path, cache_root() / "models")
        return Checkpoint(spec, str(model_dir), None, trust_remote_code, load=load, gguf=str(path.resolve()))
    if path.is_dir():
        if (path / "adapter_config.json").is_file():
            return _adapter(spec, path, base, trust_remote_code, load, adapter_revision=None)
        if (path / "config.json").is_file():
            return Checkpoint(spec, str(path.resolve()), None, trust_remote_code, load=load)
        raise HarnessError(
            f"{path}: neither a PEFT adapter (adapter_config.json) nor a model (config.json) directory"
        )
    if _looks_like_path(spec) or not _HUB_ID.match(spec):
        raise HarnessError(f"checkpoint not found: {spec} (no such directory; check --ckpt)")
    problem = hub_problem(spec, load.revision)
    if problem:
        raise HarnessError(f"checkpoint not found: {spec} is not a local directory, and as a hub id: {problem}")
    if hub_file(spec, "adapter_config.json", load.revision) is not None:  # a LoRA adapter repo
        folder = download_adapter(spec, load.revision)
        return _adapter(spec, folder, base, trust_remote_code, load, adapter_revision=folder.name)
    config = hub_file(spec, "config.json", load.revision)
    if config is None:
        raise HarnessError(f"{spec}: the hub repo has neither config.json (a model) nor adapter_config.json (an adapter)")
    return Checkpoint(spec, spec, None, trust_remote_code, load=load, model_revision=commit_of(config))


def _adapter(spec: str, folder: Path, base: str | None, trust_remote_code: bool, load: LoadOptions,
             adapter_revision: str | None) -> Checkpoint:
    """An adapter (a local dir, or the snapshot of a hub repo) on its base, the base pinned to a commit."""
    cfg = _adapter_config(folder)
    base_spec = base or cfg.get("base_model_name_or_path")
    if not base_spec:
        raise HarnessError(f"{folder / 'adapter_config.json'}: no base_model_name_or_path; pass the base with --base")
    # the revision the adapter was trained on, unless --base names another model
    base_revision = None if base else cfg.get("revision")
    model, model_revision = _resolve_base(base_spec, folder, base_revision)
    return Checkpoint(spec, model, str(folder.resolve()), trust_remote_code, load=load,
                      model_revision=model_revision, adapter_revision=adapter_revision)


def resolve_endpoint(url: str, model_name: str | None) -> Checkpoint:
    """`--ckpt http://HOST:PORT/v1 --model-name NAME`: a model served over the OpenAI API."""
    from harness.models.openai_client import check_endpoint_url

    url = check_endpoint_url(url, "--ckpt")
    if not model_name:
        raise HarnessError(
            f"--ckpt {url} is an API endpoint: name the served model with --model-name NAME "
            "(the id its /v1/models lists)"
        )
    return Checkpoint(url, model_name, None, False, endpoint=url, backend="openai")


def resolve_model(spec: str, *, base: str | None = None, model_name: str | None = None,
                  trust_remote_code: bool = False, backend: str | None = None,
                  load: LoadOptions | None = None) -> Checkpoint:
    """Any `--ckpt` value: an endpoint URL (with model_name) or what resolve_checkpoint takes.
    `backend` picks a registered backend other than the default one (hf; openai for a URL)."""
    from dataclasses import replace

    from harness.models.openai_client import looks_like_url

    if looks_like_url(spec):
        ckpt = resolve_endpoint(spec, model_name)
    elif model_name:
        raise HarnessError(f"--model-name names a model at an endpoint; --ckpt {spec} is not a URL "
                           "(drop --model-name, or give --ckpt http://HOST:PORT/v1)")
    else:
        ckpt = resolve_checkpoint(spec, base=base, trust_remote_code=trust_remote_code, load=load)
    return replace(ckpt, backend=backend) if backend else ckpt


def _adapter_config(adapter_dir: Path) -> dict:
    cfg_file = adapter_dir / "adapter_config.json"
    try:
        return json.loads(cfg_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise HarnessError(f"{cfg_file}:{e.lineno}: not valid JSON ({e.msg})") from None


def _resolve_base(base: str, adapter_dir: Path, revision: str | None) -> tuple[str, str | None]:
    """(model dir or hub id, commit sha for a hub id) of an adapter's base."""
    if base == BUNDLED_ALIAS or (_is_bundled_path(base) and not Path(base).is_dir()):
        return str(bundled_model_dir()), None  # the alias, or the bundled model's folder on another machine
    if Path(base).is_dir():
        return str(Path(base).resolve()), None
    problem = None if _HUB_ID.match(base) and not _looks_like_path(base) else "no such directory"
    problem = problem or hub_problem(base, revision)
    config = None if problem else hub_file(base, "config.json", revision)
    if config is None:
        raise HarnessError(
            f"{adapter_dir}: the adapter's base model '{base}' cannot be found ({problem or 'no config.json in the hub repo'}); "
            "pass --base DIR_OR_HUB_ID"
        )
    return base, commit_of(config)


def _is_bundled_path(model: str) -> bool:
    """The bundled model's converted folder, on this machine or another (…/models/smollm2-135m-instruct)."""
    parts = Path(model).parts
    return len(parts) >= 2 and parts[-2:] == ("models", BUNDLED_ALIAS)


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
