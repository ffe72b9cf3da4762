"""Model backends: turn chat messages into text, and conversations into per-token NLL.

A backend is one class behind the small `Backend` protocol (harness.models.backends.base), registered
by name with `@register_backend("name")`; `make_backend(ckpt)` is the one factory every command
uses. Built in: `hf` (transformers + peft, local) and `openai` (any OpenAI-compatible server).
A new backend is one file with a decorated class; `--backend NAME` picks it. Built-in backends are
imported only when asked for, so scoring answers made elsewhere loads no model code.
"""

from __future__ import annotations

import importlib
from typing import Callable

from harness.models.backends.base import Backend, Generation
from harness.errors import HarnessError

_BUILTIN = {"hf": "harness.models.backends.hf", "openai": "harness.models.backends.openai_backend"}
_REGISTRY: dict[str, Callable[..., Backend]] = {}


def register_backend(name: str):
    """Class decorator: `name` -> the backend class (constructed as cls(ckpt, **options))."""

    def register(cls):
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


__all__ = ["Backend", "Generation", "backend_names", "make_backend", "register_backend"]
