"""The repository stands on its own: no file, docstring or --help text points at material a user
who clones it does not have (a ../shared folder, numbered course documents), docs/lab1.md carries
the lab's ten prompts exactly as the suite runs them, and the docs' relative links resolve."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
TEXT_SUFFIXES = {".md", ".py", ".yaml", ".yml", ".sh", ".toml", ".jinja", ".txt", ".cfg"}
SKIP_DIRS = {".git", ".venv", "runs", "out", "build", "__pycache__", ".pytest_cache", "node_modules"}
OUTSIDE = re.compile(r"\.\./shared|shared/seeds|\bseeds? ?[-]?0\d\d\b|\bseeds \d{3}/\d{3}", re.IGNORECASE)


def _project_files():
    """The files git tracks plus the untracked ones it does not ignore (virtualenvs such as .venv-vllm
    are ignored); every file under the root when this is not a git checkout."""
    import subprocess

    try:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.splitlines()
        return [ROOT / name for name in listed]
    except (OSError, subprocess.CalledProcessError):
        return list(ROOT.rglob("*"))


def _text_files():
    for path in _project_files():
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.parent.name in {".ci", "scripts"}):
            if path != Path(__file__).resolve():
                yield rel, path


def test_no_file_points_outside_the_repository():
    hits = [f"{rel}:{n}: {line.strip()}" for rel, path in _text_files()
            for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
            if OUTSIDE.search(line)]
    assert not hits, "\n".join(hits)


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return parser, action.choices


def test_no_help_text_points_outside_the_repository():
    parser, commands = _subparsers()
    texts = {"harness": parser.format_help()} | {name: p.format_help() for name, p in commands.items()}
    bad = {name: OUTSIDE.findall(text) for name, text in texts.items() if OUTSIDE.search(text)}
    assert not bad


def test_lab1_doc_lists_the_ten_prompts_the_suite_runs():
    doc = (ROOT / "docs" / "lab1.md").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in (ROOT / "suites" / "data" / "compare10.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) == 10
    for row in rows:
        assert f"| {row['id']} |" in doc and row["prompt"] in doc, row


@pytest.mark.parametrize("doc", ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))])
def test_relative_links_in_the_docs_resolve(doc):
    path = ROOT / doc
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8"))
    missing = [l for l in links if "://" not in l and not (path.parent / l).exists()]
    assert not missing, f"{doc}: {missing}"
