"""Where registered parts come from: the built-in scorer and judge modules, imported by name.

The engine never imports `suites` or `judges` statically (docs/architecture.md): it asks for
their registrations here, once, the first time a registry is read. Backends are imported the
same way, lazily, by harness.models.backends.make_backend (the hf backend pulls in torch).
"""

from __future__ import annotations

import importlib

BUILTIN_SCORER_MODULES = ("suites.scorers", "judges.scorers")
_loaded = False


def load_builtin_plugins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN_SCORER_MODULES:
        importlib.import_module(module)
