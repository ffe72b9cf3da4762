"""The import layering of docs/architecture.md, checked on the source: the engine core returns
data and imports no use case, judge, trainer or report; the packages around it import the core
(and themselves) only; use cases wire everything together."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

# harness/ modules that are use cases: commands and the flows behind them. Everything else in
# harness/ is the core.
USE_CASES = {"cli", "__main__", "runner", "score_answers", "label_agreement", "rescore", "checkpoint_scores",
             "training", "watch", "serve", "chat", "merge",
             "sweep", "lab_report"}
PACKAGES = ("harness", "suites", "judges", "trainers", "datapipe", "reports")
# what each layer may import, besides itself and third-party code
ALLOWED = {
    "core": {"core"},
    "suites": {"core"},
    "judges": {"core", "use case:serve"},  # local:MODEL judges start `harness serve` in-process
    "trainers": {"core", "datapipe"},  # training data comes from the data pipeline's output
    "datapipe": {"core"},
    "reports": {"core"},
    "use case": {"core", "suites", "judges", "trainers", "datapipe", "reports", "use case"},
}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return None  # third-party or the standard library
    if parts[0] == "harness":
        return "use case" if len(parts) > 1 and parts[1] in USE_CASES else "core"
    return parts[0]


def imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute import in the file, module-level and inside functions (TYPE_CHECKING included)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out += [(node.lineno, node.module)]
    return out


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    return ".".join(p for p in rel.parts if p != "__init__")


def violations() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            me = module_name(path)
            mine = layer_of(me)
            for line, target in imports(path):
                theirs = layer_of(target)
                if theirs is None or theirs == mine:
                    continue
                name = f"use case:{target.split('.')[1]}" if theirs == "use case" else theirs
                if theirs not in ALLOWED[mine] and name not in ALLOWED[mine]:
                    found.append(f"{path.relative_to(REPO)}:{line}: {me} ({mine}) imports {target} ({theirs})")
    return found


def test_no_import_breaks_the_layering():
    assert violations() == []


def test_the_check_sees_a_broken_import(tmp_path, monkeypatch):
    """The checker itself: a core module importing a report is caught."""
    bad = REPO / "harness" / "_layering_probe.py"
    bad.write_text("def f():\n    from reports.markdown import render_report\n")
    try:
        assert violations() == ["harness/_layering_probe.py:2: harness._layering_probe (core) imports reports.markdown (reports)"]
    finally:
        bad.unlink()


def test_architecture_doc_lists_the_use_cases():
    doc = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name in sorted(USE_CASES - {"__main__"}):
        assert f"{name}.py" in doc, name
