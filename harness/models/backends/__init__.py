"""Model backends: turn chat messages into text, and conversations into per-token NLL.

A backend is one class behind the `Backend` contract (harness.models.backends.base: subclass
`BackendBase`), registered by name with `@register_backend("name")`; `make_backend(ckpt)` is the one
factory every command uses. Built in: `hf` (transformers + peft, local), `openai` (any
OpenAI-compatible server) and `vllm` (a vLLM server this process starts and owns). A new backend is
one file with a decorated class; `--backend NAME` picks it. Built-in backends are imported only
when asked for, so scoring answers made elsewhere loads no model code.
"""

from __future__ import annotations

import importlib
from typing import Callable

from harness.models.backends.base import CONTRACT, Backend, BackendBase, Capabilities, Generation
from harness.errors import HarnessError

_BUILTIN = {"hf": "harness.models.backends.hf", "openai": "harness.models.backends.openai_backend",
            "vllm": "harness.models.backends.vllm"}
_REGISTRY: dict[str, Callable[..., Backend]] = {}


def register_backend(name: str):
    """Class decorator: `name` -> the backend class (constructed as cls(ckpt, **options)). A name is
    registered once; the class must implement the whole contract (subclass BackendBase)."""

    def register(cls):
        missing = [m for m in CONTRACT if not callable(getattr(cls, m, None))]
        if missing:
            raise HarnessError(f"backend {name!r} ({_qualname(cls)}) lacks {', '.join(missing)} of the Backend "
                               "contract; subclass harness.backends.base.BackendBase")
        known = _REGISTRY.get(name)
        if known is not None and _qualname(known) != _qualname(cls):  # the same class imported again is fine
            raise HarnessError(f"backend name {name!r} is taken by {_qualname(known)}; {_qualname(cls)} "
                               "must register under another name")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return register


def backend_names() -> list[str]:
    return sorted(set(_BUILTIN) | set(_REGISTRY))


def make_backend(ckpt, **options) -> Backend:
    """The backend `ckpt.backend` names, loaded with `ckpt` (options: e.g. model=, tokenizer= to wrap a
    model already in memory)."""
    name = ckpt.backend
    if name not in _REGISTRY and name in _BUILTIN:
        importlib.import_module(_BUILTIN[name])
    if name not in _REGISTRY:
        raise HarnessError(f"unknown backend {name!r}; known backends: {', '.join(backend_names())}")
    return _REGISTRY[name](ckpt, **options)


def _qualname(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


__all__ = ["Backend", "BackendBase", "Capabilities", "Generation", "backend_names", "make_backend", "register_backend"]
