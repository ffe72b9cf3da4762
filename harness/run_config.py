"""What a run directory's config.json records: the invocation, the suite (tasks, data hashes,
generation settings, scorer versions), the metric definitions, the model and how it was loaded,
the chat template's hash and the package versions."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict

from harness.models.checkpoint import Checkpoint
from harness.rundir import package_versions
from harness.suite import Suite, load_suite


def build_config(request, suite: Suite, ckpt: Checkpoint, roles: list[str], backend,
                 available: set[str] = frozenset()) -> dict:
    described = backend.describe() if backend is not None else _NO_BACKEND  # None: answers made elsewhere
    config = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "invocation": asdict(request),
        "argv": sys.argv,
        "roles": roles,
        "suite": suite_description(suite),
        "metric_definitions": metric_definitions(suite, available),
        "models": {"checkpoint": ckpt.describe()},
        "chat_template_hash": described["chat_template_hash"],
        "backend": described["backend"],
        "device": described["device"],
        # how the answers were made (compare checks it); unknown without a backend
        "engine": {"backend": described["backend"], **described["engine"]} if backend is not None else None,
        "versions": package_versions(),
    }
    if request.judge:
        config["judge"] = request.judge.describe()
    return config


_NO_BACKEND = {"backend": None, "device": "", "chat_template_hash": None, "engine": {}}


def suite_description(suite: Suite) -> dict:
    return {
        "name": suite.name,
        "path": str(suite.path),
        "version": suite.version(),
        "tasks": {
            t.name: {
                "kind": t.kind,
                "samples_file": str(t.samples_file),
                "data_hash": t.data_hash(),
                "n_samples": len(t.samples),
                "generation": t.generation.to_dict(),
                "scorers": {s.id: s.describe() for s in t.scorers},
            }
            for t in suite.tasks.values()
        },
    }


def metric_definitions(suite: Suite, available: set[str]) -> dict:
    """config.json's `metric_definitions`: every metric of the suite file (also of tasks this run
    skipped, so a gate policy can name them) for a run with `available` extras (e.g. a judge)."""
    whole = load_suite(str(suite.path)) if set(suite.tasks) != set(_task_names(suite.path)) else suite
    return {m.name: m.to_dict() for m in whole.metric_definitions(available)}


def _task_names(path) -> list[str]:
    from harness.io.yaml_lines import load_yaml

    return list((load_yaml(path) or {}).get("tasks") or {})
