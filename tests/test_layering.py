"""The import layering of docs/architecture.md, checked on the source, by folder:

- `harness.app.*` and the CLI (`harness.cli`, `harness.__main__`) are the use cases: they may import
  everything;
- `harness.serve.*` (the OpenAI-compatible server) imports the core only;
- `harness.view.*` (the result viewer, `harness view`) imports the core only, and only use cases import it;
- the core (every other module under `harness/`: the top-level modules, `models/`, `results/`,
  `lab/`, `io/`) imports no use case, no server, and none of `reports`, `judges`, `trainers`,
  `datapipe`, `suites`;
- the packages around the core import the core and themselves (plus the exceptions in ALLOWED).

A second check finds import circles between modules (function-local imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGES = ("harness", "suites", "judges", "trainers", "datapipe", "reports")
# what each layer may import, besides itself and third-party code
ALLOWED = {
    "core": {"core"},
    "serve": {"core"},
    "view": {"core"},
    "suites": {"core"},
    "judges": {"core", "serve"},  # local:MODEL judges start `harness serve` in-process
    "trainers": {"core", "datapipe"},  # training data comes from the data pipeline's output
    "datapipe": {"core"},
    "reports": {"core"},
    "use case": {"core", "serve", "view", "suites", "judges", "trainers", "datapipe", "reports", "use case"},
}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return None  # third-party or the standard library
    if parts[0] != "harness":
        return parts[0]
    room = parts[1] if len(parts) > 1 else ""
    if room in {"app", "cli", "__main__"}:
        return "use case"
    if room in {"serve", "view"}:
        return room
    return "core"


def imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute import in the file, module-level and inside functions (TYPE_CHECKING included).
    `from a.b import c` counts as an import of `a.b.c` when that is a module of the project."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.append((node.lineno, sub if _is_module(sub) else node.module))
    return out


def _is_module(name: str) -> bool:
    base = REPO.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    return ".".join(p for p in rel.parts if p != "__init__")


def project_files():
    for package in PACKAGES:
        yield from sorted((REPO / package).rglob("*.py"))


def violations() -> list[str]:
    found = []
    for path in project_files():
        me = module_name(path)
        mine = layer_of(me)
        for line, target in imports(path):
            theirs = layer_of(target)
            if theirs is None or theirs == mine:
                continue
            if theirs not in ALLOWED[mine]:
                found.append(f"{path.relative_to(REPO)}:{line}: {me} ({mine}) imports {target} ({theirs})")
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in project_files()}
    return {me: {t for _, t in imports(p) if t in modules and t != me} for me, p in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_breaks_the_layering():
    assert violations() == []


def test_no_import_circle_between_modules():
    assert cycles(import_graph()) == []


def test_the_cycle_check_sees_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_check_sees_a_broken_import():
    """The checker itself: a core module importing a report, or a use case, is caught."""
    bad = REPO / "harness" / "results" / "_layering_probe.py"
    bad.write_text("def f():\n    from reports.markdown import render_report\n    from harness.app import run\n")
    try:
        assert violations() == [
            "harness/results/_layering_probe.py:2: harness.results._layering_probe (core) imports reports.markdown (reports)",
            "harness/results/_layering_probe.py:3: harness.results._layering_probe (core) imports harness.app.run (use case)",
        ]
    finally:
        bad.unlink()


def test_the_viewer_is_its_own_layer():
    """The core never imports the viewer; the viewer imports the core, never a use case or a report."""
    bad = REPO / "harness" / "view" / "_layering_probe.py"
    core = REPO / "harness" / "results" / "_layering_probe.py"
    bad.write_text("from harness.app import run\nfrom reports.markdown import render_report\nfrom harness.records import SampleRecord\n")
    core.write_text("from harness.view import pages\n")
    try:
        assert violations() == [
            "harness/results/_layering_probe.py:1: harness.results._layering_probe (core) imports harness.view.pages (view)",
            "harness/view/_layering_probe.py:1: harness.view._layering_probe (view) imports harness.app.run (use case)",
            "harness/view/_layering_probe.py:2: harness.view._layering_probe (view) imports reports.markdown (reports)",
        ]
    finally:
        bad.unlink()
        core.unlink()


def test_architecture_doc_names_every_room():
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    for room in sorted(p.name for p in (REPO / "harness").iterdir() if (p / "__init__.py").exists()):
        assert f"harness/{room}/" in doc, room
