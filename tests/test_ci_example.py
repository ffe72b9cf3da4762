"""The GitHub Actions example: valid YAML whose harness commands this CLI accepts."""

from __future__ import annotations

import shlex

import yaml

from conftest import REPO
from harness.cli import build_parser


def _steps() -> list[dict]:
    doc = yaml.safe_load((REPO / "examples" / "github-actions-gate.yml").read_text(encoding="utf-8"))
    return doc["jobs"]["gate"]["steps"]


def _harness_commands(script: str) -> list[list[str]]:
    joined = script.replace("\\\n", " ")  # shell line continuations
    return [shlex.split(line.strip())[1:] for line in joined.splitlines() if line.strip().startswith(".venv/bin/harness ")]


def test_the_workflow_sets_up_runs_gates_and_reports():
    steps = _steps()
    scripts = "\n".join(s.get("run", "") for s in steps)
    assert "bash scripts/setup.sh" in scripts
    assert 'cat gate-summary.md >> "$GITHUB_STEP_SUMMARY"' in scripts
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert "gate-junit.xml" in upload["with"]["path"] and upload["if"] == "always()"
    commands = [c for s in steps for c in _harness_commands(s.get("run", ""))]
    assert [c[0] for c in commands] == ["run", "gate"]
    for command in commands:
        build_parser().parse_args(command)  # every option it uses exists
    gate = commands[1]
    assert gate[gate.index("--baseline") + 1] == "baselines/lab1.json" and "--junit" in gate
