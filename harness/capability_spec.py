"""What a capability task of a suite asks for: lm-evaluation-harness tasks by name, each with its
limit, few-shot count, filter and the per-document metrics to keep. Parsed from the suite YAML
(errors name file:line); nothing here loads lm-eval or a dataset.

    capability:
      kind: capability
      include: lm_eval_tasks        # optional: a folder of lm-eval task YAMLs, relative to the suite file
      lm_eval:
        arc_challenge: {limit: 300, num_fewshot: 0, metrics: [acc, acc_norm]}
        gsm8k: {limit: 200, num_fewshot: 5, filter: flexible-extract, metrics: [exact_match]}
        ifeval: {limit: 200, metrics: [prompt_level_strict_acc, inst_level_strict_acc]}

Everything else (prompt format, few-shot source, metric definitions) is lm-eval's own task config.
A metric is `name` or `{name: {aggregate: ratio, higher_is_better: false}}`; IFEval's
instruction-level metrics (a list of verdicts per document) default to `ratio`: passed
instructions over instructions, as lm-eval aggregates them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from harness.errors import HarnessError
from harness.io.yaml_lines import check_keys, key_line, line_of
from harness.records import MetricDef

ENTRY_KEYS = {"limit", "num_fewshot", "filter", "metrics"}
LIST_METRICS = ("inst_level_",)  # lm-eval metrics that give a list of verdicts per document


@dataclass(frozen=True)
class CapabilityMetric:
    name: str  # lm-eval's metric name (a key of process_results), also the score id
    aggregate: str = "mean"  # "mean" of per-document values, or "ratio" (list verdicts: passed / all)
    higher_is_better: bool = True


@dataclass
class LmEvalEntry:
    name: str  # an lm-eval task, group or tag name
    limit: int | None = None  # documents per lm-eval (sub)task: lm-eval's `limit` (the first N)
    num_fewshot: int | None = None  # None: the task config's own
    filter: str | None = None  # which of the task's filters is scored; None: "none", else the first
    metrics: tuple[CapabilityMetric, ...] = (CapabilityMetric("acc"),)

    def as_sample(self) -> dict:
        """The entry as a sample of its suite task (one unit of generation work per role)."""
        d = asdict(self)
        d["metrics"] = [asdict(m) for m in self.metrics]
        return {"id": self.name, "lm_eval_task": self.name, **{k: v for k, v in d.items() if k != "name"}}

    @classmethod
    def from_sample(cls, sample: dict) -> "LmEvalEntry":
        return cls(sample["lm_eval_task"], sample.get("limit"), sample.get("num_fewshot"), sample.get("filter"),
                   tuple(CapabilityMetric(**m) for m in sample["metrics"]))


def parse_entries(task: str, spec: dict, path: Path) -> list[LmEvalEntry]:
    where = f"{path}:{line_of(spec)}"
    entries = spec.get("lm_eval")
    if not isinstance(entries, dict) or not entries:
        raise HarnessError(f"{where}: capability task '{task}' needs 'lm_eval': a mapping of lm-eval task names to "
                           "{limit, num_fewshot, filter, metrics}, e.g. {arc_challenge: {limit: 100, metrics: [acc]}}")
    out = []
    for name, e in entries.items():
        at = f"{path}:{key_line(entries, name)}"
        e = e or {}
        if not isinstance(e, dict):
            raise HarnessError(f"{at}: lm_eval task '{name}' takes a mapping of {', '.join(sorted(ENTRY_KEYS))}")
        check_keys(e, ENTRY_KEYS, path, f"lm_eval task '{name}'")
        for key in ("limit", "num_fewshot"):
            if e.get(key) is not None and (not isinstance(e[key], int) or isinstance(e[key], bool) or e[key] < 0
                                           or (key == "limit" and e[key] == 0)):
                raise HarnessError(f"{at}: lm_eval task '{name}': {key} must be a {'positive' if key == 'limit' else 'non-negative'} "
                                   f"integer, got {e[key]!r}")
        metrics = tuple(_metric(m, name, at) for m in (e.get("metrics") or ["acc"]))
        out.append(LmEvalEntry(str(name), e.get("limit"), e.get("num_fewshot"),
                               str(e["filter"]) if e.get("filter") is not None else None, metrics))
    return out


def _metric(m, entry: str, where: str) -> CapabilityMetric:
    if isinstance(m, str):
        return CapabilityMetric(m, "ratio" if m.startswith(LIST_METRICS) else "mean")
    if isinstance(m, dict) and len(m) == 1:
        name, opts = next(iter(m.items()))
        opts = dict(opts or {})
        unknown = set(opts) - {"aggregate", "higher_is_better"}
        aggregate = opts.get("aggregate", "ratio" if str(name).startswith(LIST_METRICS) else "mean")
        if unknown or aggregate not in ("mean", "ratio"):
            raise HarnessError(f"{where}: lm_eval task '{entry}': metric {name!r} takes aggregate (mean or ratio) and "
                               f"higher_is_better, got {m!r}")
        return CapabilityMetric(str(name), aggregate, bool(opts.get("higher_is_better", True)))
    raise HarnessError(f"{where}: lm_eval task '{entry}': a metric is a name or {{name: {{aggregate: ratio}}}}, got {m!r}")


def include_folder(task: str, spec: dict, path: Path) -> Path | None:
    if spec.get("include") is None:
        return None
    folder = (path.parent / str(spec["include"])).resolve()
    if not folder.is_dir():
        raise HarnessError(f"{path}:{key_line(spec, 'include')}: capability task '{task}': include folder {folder} "
                           "not found (a folder of lm-eval task YAMLs, relative to the suite file)")
    return folder


def metric_definitions(task: str, entries: list[LmEvalEntry]) -> list[MetricDef]:
    """One metric per (lm-eval task, metric): `<task>/<lm-eval task>_<metric>`, over that task's documents."""
    return [MetricDef(f"{task}/{e.name}_{m.name}", task, m.name, {"lm_eval_task": e.name}, m.higher_is_better,
                      None, m.aggregate) for e in entries for m in e.metrics]


def scorer_entries(task: str, entries: list[LmEvalEntry], where: str) -> list[dict]:
    """The `lm_eval_metric` scorers (suites/scorers/capability.py) a task runs: one per metric name."""
    seen: dict[str, CapabilityMetric] = {}
    for e in entries:
        for m in e.metrics:
            if m.name in seen and seen[m.name].aggregate != m.aggregate:
                raise HarnessError(f"{where}: capability task '{task}': metric {m.name!r} is aggregated both as "
                                   f"{seen[m.name].aggregate} and {m.aggregate}; use one")
            seen[m.name] = m
    return [{"lm_eval_metric": {"metric": m.name, "aggregate": m.aggregate, "id": m.name}} for m in seen.values()]


def data_hash(entries: list[LmEvalEntry], include: Path | None) -> str:
    """What the documents depend on: the entries, lm-eval's version (its task configs) and the
    files of the include folder (custom tasks and their local data)."""
    h = hashlib.sha256(json.dumps([e.as_sample() for e in entries], sort_keys=True).encode())
    h.update(lm_eval_version().encode())
    if include is not None:
        for f in sorted(p for p in include.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(include)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def lm_eval_version() -> str:
    try:
        return metadata.version("lm_eval")
    except metadata.PackageNotFoundError:
        return "not installed"
