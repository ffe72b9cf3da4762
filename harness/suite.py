"""Suites are data: a YAML file names tasks; each task names its samples, generation settings,
scorers and metrics. This module loads and checks them (errors name the file and line).

    name: lab1
    generation: {max_new_tokens: 160}          # suite-wide defaults
    every_generation: [usability]             # scorers run on every generated answer
    pooled: {usability: {usability_rate: {scorer: usability}}}   # metrics over all tasks
    tasks:
      format:
        kind: generate                        # or: loglikelihood
        samples: data/format.jsonl            # relative to the YAML file
        generation: {max_new_tokens: 200}
        scorers: [json_schema, {json_valid: {mode: strict, id: json_valid_strict}}]
        metrics:                              # optional; default: the scorers' own metrics
          json_validity_rate: {scorer: json_valid_strict}   # `scorer`: the score id the metric reads
      compare10:
        scorers: [judge_pairwise, judge_rubric]   # judge scorers run only when the run has --judge
        metrics:
          judge_win_rate: {scorer: judge_pairwise, roles: [ckpt]}

A metric may also say `where` (sample fields that select its samples), `higher_is_better`,
`roles` and `aggregate` (mean, perplexity, ratio). Scorers come from the registry in
harness/scorers.py; a scorer's metrics only exist in runs where it runs (judge scorers: --judge).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import capability_spec
from harness.errors import HarnessError
from harness.io.includes import find as find_included, include_dirs
from harness.models.generation_settings import GenerationSettings
from harness.io.jsonl import read_jsonl
from harness.io.yaml_lines import check_keys, key_line, line_of as _line, load_yaml  # noqa: F401  (re-exported)
from harness.records import AGGREGATES, MetricDef
from harness.scorers import ScorerInfo, registered_scorers

BUILTIN_SUITES = Path(__file__).resolve().parent.parent / "suites"
TASK_KINDS = ("generate", "loglikelihood", "capability")


@dataclass
class ScorerSpec:
    id: str  # the key of this scorer's verdicts in records and the default metric name
    name: str  # the registered scorer
    params: dict[str, Any]
    info: ScorerInfo
    instance: Any  # per-sample: the score function; batch: the object with score_batch

    @property
    def outputs(self) -> tuple[str, ...]:
        """The score ids this scorer writes."""
        return self.info.outputs or (self.id,)

    @property
    def batch(self) -> bool:
        return self.info.batch

    def runs_with(self, available: set[str]) -> bool:
        """Whether it runs in a run that has `available` extras (e.g. {"judge"})."""
        return self.info.requires <= available

    def describe(self) -> dict:
        return {"scorer": self.name, "version": self.info.version, **self.params}


@dataclass
class Task:
    name: str
    kind: str
    samples_file: Path
    samples: list[dict]
    generation: GenerationSettings
    scorers: list[ScorerSpec]
    metrics: list[MetricDef]  # every metric declared for the task (also of scorers that need a judge)
    mask: str = "assistant"  # loglikelihood tasks: "assistant" or "all"
    side_by_side: bool = False  # report shows base and checkpoint answers next to each other
    include: Path | None = None  # capability tasks: the folder of custom lm-eval task YAMLs
    data_digest: str | None = None  # capability tasks: what their documents depend on (harness.capability_spec)

    def scorers_for(self, available: set[str]) -> list[ScorerSpec]:
        return [s for s in self.scorers if s.runs_with(available)]

    def data_hash(self) -> str:
        return self.data_digest or _file_hash(self.samples_file)


@dataclass
class Suite:
    name: str
    path: Path
    description: str
    tasks: dict[str, Task]
    pooled: list[MetricDef]  # metrics over the records of every task (task None)
    headline: dict[str, str] = field(default_factory=dict)  # metric -> short label, the one-line summary per checkpoint

    def version(self) -> str:
        """Hash of the YAML and every data file: two runs are comparable only if it matches."""
        return suite_version(self.path, [task.data_hash() for task in self.tasks.values()])

    def metric_definitions(self, available: set[str] = frozenset()) -> list[MetricDef]:
        """The metrics a run with `available` extras (e.g. {"judge"}) has, in suite order:
        those whose score some running scorer writes."""
        out = []
        for task in self.tasks.values():
            written = {o for s in task.scorers_for(available) for o in s.outputs}
            out += [m for m in task.metrics if m.score in written]
        written = {o for t in self.tasks.values() for s in t.scorers_for(available) for o in s.outputs}
        return out + [m for m in self.pooled if m.score in written]


def suite_version(yaml_path: Path, data_hashes: list[str]) -> str:
    """The version of a suite file with these tasks' data (in task order)."""
    h = hashlib.sha256(Path(yaml_path).read_bytes())
    for data_hash in data_hashes:
        h.update(data_hash.encode())
    return h.hexdigest()[:16]


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def list_suites() -> list[Path]:
    """The built-in suites and those of --include folders."""
    return sorted([*BUILTIN_SUITES.glob("*.yaml"), *(p for d in include_dirs() for p in (d / "suites").glob("*.yaml"))])


def find_suite(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"}:
        if not path.is_file():
            raise HarnessError(f"suite file not found: {path}")
        return path
    included = find_included("suites", f"{name_or_path}.yaml")  # --include folders first
    if included:
        return included
    builtin = BUILTIN_SUITES / f"{name_or_path}.yaml"
    if builtin.is_file():
        return builtin
    names = ", ".join(p.stem for p in list_suites()) or "none"
    raise HarnessError(f"unknown suite '{name_or_path}'; suites: {names} (or pass a path to a .yaml file)")


def spread(samples: list[dict], k: int | None) -> list[dict]:
    """k samples spread evenly over the file (so a subset still has both safety halves)."""
    if not k or k >= len(samples):
        return samples
    step = len(samples) / k
    return [samples[math.floor(i * step)] for i in range(k)]


def apply_limit(suite: "Suite", limit: dict[str, int | float]) -> None:
    """--limit: at most N samples per task ("*": every task), spread evenly over each file; a
    fraction 0 < N < 1 keeps that share of each task's samples, rounded up (lm-eval's --limit)."""
    unknown = sorted(set(limit) - set(suite.tasks) - {"*"})
    if unknown:
        raise HarnessError(f"--limit {unknown[0]}=...: no task '{unknown[0]}' in suite {suite.name} "
                           f"(tasks: {', '.join(suite.tasks)})")
    for name, task in suite.tasks.items():
        n = limit.get(name, limit.get("*"))
        if task.kind == "capability":  # documents per lm-eval task, not lm-eval tasks
            for entry in task.samples:
                if n and isinstance(n, float) and entry["limit"]:  # a share of the entry's own limit
                    entry["limit"] = math.ceil(entry["limit"] * n)
                elif n:  # lm-eval reads a limit below 1 as a share of the task's documents
                    entry["limit"] = min(entry["limit"] or n, n)
        else:
            if isinstance(n, float) and 0 < n < 1:
                n = math.ceil(len(task.samples) * n)
            task.samples = spread(task.samples, n)


def load_suite(
    name_or_path: str,
    *,
    tasks: list[str] | None = None,
    data_overrides: dict[str, str] | None = None,
    gen_overrides: dict[str, Any] | None = None,
) -> Suite:
    """Load a suite; `tasks` selects some, `data_overrides` maps task -> JSONL file,
    `gen_overrides` (from the command line) beat the task's and the suite's settings."""
    path = find_suite(name_or_path)
    doc = load_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("tasks"), dict) or not doc["tasks"]:
        raise HarnessError(f"{path}: a suite needs a 'tasks' mapping with at least one task")
    check_keys(doc, {"name", "description", "generation", "every_generation", "pooled", "headline", "tasks"}, path, "suite")

    suite_gen = GenerationSettings().updated(doc.get("generation") or {}, f"{path}:{_line(doc.get('generation'))}")
    every = doc.get("every_generation") or []
    data_overrides = dict(data_overrides or {})
    selected = list(doc["tasks"]) if not tasks else tasks
    for name in list(selected) + list(data_overrides):
        if name not in doc["tasks"]:
            raise HarnessError(f"unknown task '{name}' in suite {path.stem}; tasks: {', '.join(doc['tasks'])}")

    loaded = {}
    for name in selected:
        spec = doc["tasks"][name]
        loaded[name] = _load_task(name, spec, path, suite_gen, every, data_overrides.get(name), gen_overrides or {})
    # Pooled metrics are checked against every task's scorers, and kept if a selected task runs them.
    known: dict[str, ScorerSpec] = {}
    for name, spec in doc["tasks"].items():
        entries = list((spec or {}).get("scorers") or []) + list(every)
        for entry in entries:
            s = _scorer(entry, f"{path}:{_line(spec)}", path.parent)
            known.update({o: s for o in s.outputs})
    running = {o for t in loaded.values() for s in t.scorers for o in s.outputs}
    pooled = []
    for group, metrics in (doc.get("pooled") or {}).items():
        for mname, mspec in (metrics or {}).items():
            metric = _metric(f"{group}/{mname}", None, mspec, path, known)
            if metric.score in running:
                pooled.append(metric)
    headline = doc.get("headline") or {}
    if not isinstance(headline, dict):
        raise HarnessError(f"{path}:{key_line(doc, 'headline')}: headline maps metric names to short labels, "
                           "e.g. {{format/json_validity_strict: json}}")
    suite = Suite(doc.get("name", path.stem), path, doc.get("description", ""), loaded, pooled)
    suite.headline = {str(k): str(v) for k, v in headline.items()} or {m.name: m.short for m in suite.metric_definitions()}
    return suite


def _load_task(name, spec, path, suite_gen, every, data_file, gen_overrides) -> Task:
    where = f"{path}:{_line(spec)}"
    if not isinstance(spec, dict):
        raise HarnessError(f"{where}: task '{name}' must be a mapping")
    if "judge" in spec:
        raise HarnessError(
            f"{path}:{key_line(spec, 'judge')}: task '{name}': `judge:` became judge scorers; list them under "
            "scorers (judge_pairwise, judge_rubric, judge_refusal) and their metrics under metrics (see suites/lab1.yaml)"
        )
    kind = spec.get("kind", "generate")
    if kind not in TASK_KINDS:
        raise HarnessError(f"{where}: task '{name}': kind must be one of {', '.join(TASK_KINDS)}, got {kind!r}")
    if kind == "capability":
        check_keys(spec, {"kind", "lm_eval", "include", "description"}, path, f"task '{name}'")
        return _capability_task(name, spec, path, suite_gen)
    check_keys(spec, {"kind", "samples", "generation", "scorers", "metrics", "mask", "side_by_side", "description"},
               path, f"task '{name}'")
    if "samples" not in spec and not data_file:
        raise HarnessError(f"{where}: task '{name}' needs 'samples' (a JSONL file)")
    samples_file = Path(data_file) if data_file else (path.parent / spec["samples"])
    samples = _load_samples(samples_file, kind)
    task_gen = spec.get("generation") or {}
    gen = suite_gen.updated(task_gen, f"{path}:{_line(task_gen)}").updated(gen_overrides, "command line")
    default_scorers = ["perplexity", "bits_per_byte"] if kind == "loglikelihood" else []
    scorer_entries = list(spec.get("scorers") or default_scorers) + (list(every) if kind == "generate" else [])
    scorers = [_scorer(entry, where, path.parent) for entry in scorer_entries]
    for s in scorers:
        if kind not in s.info.task_kinds:
            raise HarnessError(f"{where}: task '{name}': scorer {s.name!r} scores {'/'.join(s.info.task_kinds)} tasks, "
                               f"not {kind} tasks")
    ids = [o for s in scorers for o in s.outputs]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise HarnessError(f"{where}: task '{name}' has two scorers writing {sorted(dupes)[0]!r}; give one an 'id'")
    by_output = {o: s for s in scorers for o in s.outputs}
    metrics = [_metric(f"{name}/{m}", name, s, path, by_output) for m, s in (spec.get("metrics") or {}).items()]
    covered = {m.score for m in metrics}
    for s in scorers:  # a scorer none of whose scores a declared metric reads gets its own metrics
        if s.name in every or covered & set(s.outputs):
            continue
        for d in s.info.metrics:
            metrics.append(MetricDef(f"{name}/{d.name or s.id}", name, d.score or s.id, dict(d.where),
                                     s.info.higher_is_better, list(d.roles) if d.roles else None, d.aggregate))
    mask = spec.get("mask", "assistant")
    if mask not in {"assistant", "all"}:
        raise HarnessError(f"{where}: task '{name}': mask must be 'assistant' or 'all', got {mask!r}")
    return Task(name, kind, samples_file, samples, gen, scorers, metrics, mask, bool(spec.get("side_by_side")))


def _capability_task(name, spec, path, suite_gen) -> Task:
    """lm-eval tasks as one suite task: a sample per lm-eval task (its documents come when it runs),
    an `lm_eval_metric` scorer per metric name, a metric per (lm-eval task, metric)."""
    entries = capability_spec.parse_entries(name, spec, path)
    include = capability_spec.include_folder(name, spec, path)
    where = f"{path}:{_line(spec)}"
    scorers = [_scorer(e, where, path.parent) for e in capability_spec.scorer_entries(name, entries, where)]
    return Task(name, "capability", path, [e.as_sample() for e in entries], suite_gen, scorers,
                capability_spec.metric_definitions(name, entries), include=include,
                data_digest=capability_spec.data_hash(entries, include))


def _load_samples(path: Path, kind: str) -> list[dict]:
    rows = read_jsonl(path, what="samples file")
    seen = set()
    for row in rows:
        where = f"{path}:{row['__line__']}"
        row.setdefault("id", f"line{row['__line__']}")
        row["id"] = str(row["id"])
        if row["id"] in seen:
            raise HarnessError(f"{where}: duplicate sample id {row['id']!r}")
        seen.add(row["id"])
        if "messages" in row:
            check_messages(row["messages"], where, need_assistant=kind == "loglikelihood")
        elif "prompt" in row and kind == "generate":
            if not isinstance(row["prompt"], str) or not row["prompt"].strip():
                raise HarnessError(f"{where}: 'prompt' must be a non-empty string")
        else:
            need = "'messages'" if kind == "loglikelihood" else "'prompt' or 'messages'"
            raise HarnessError(f"{where}: a sample needs {need}")
    if not rows:
        raise HarnessError(f"{path}: no samples")
    return rows


def check_messages(messages: Any, where: str, *, need_assistant: bool) -> None:
    """Chat messages: system first (optional), then user/assistant alternating, non-empty content."""
    if not isinstance(messages, list) or not messages:
        raise HarnessError(f"{where}: 'messages' must be a non-empty list of {{role, content}} objects")
    expected = "user"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise HarnessError(f"{where}: messages[{i}] needs 'role' and 'content'")
        if not isinstance(m["content"], str) or not m["content"].strip():
            raise HarnessError(f"{where}: messages[{i}] ({m['role']}) has empty content")
        if i == 0 and m["role"] == "system":
            continue
        if m["role"] != expected:
            raise HarnessError(f"{where}: messages[{i}] has role {m['role']!r}, expected {expected!r} (roles out of order)")
        expected = "assistant" if expected == "user" else "user"
    if need_assistant and messages[-1]["role"] != "assistant":
        raise HarnessError(f"{where}: the conversation must end with an assistant turn")


def sample_messages(sample: dict) -> list[dict]:
    """The conversation to answer: the prompt as one user turn, or the messages up to the last user turn."""
    if "messages" in sample:
        msgs = [{"role": m["role"], "content": m["content"]} for m in sample["messages"]]
        while msgs and msgs[-1]["role"] == "assistant":
            msgs.pop()
        return msgs
    return [{"role": "user", "content": sample["prompt"]}]


def sample_prompt(sample: dict) -> str:
    return sample["prompt"] if "prompt" in sample else sample_messages(sample)[-1]["content"]


def _scorer(entry, where, suite_dir: Path) -> ScorerSpec:
    """A scorer entry of a suite; a parameter named `path` or ending in `_path` is a file relative to
    the suite file's folder (as `samples` is)."""
    if isinstance(entry, str):
        name, params = entry, {}
    elif isinstance(entry, dict) and len(entry) == 1:
        name, params = next(iter(entry.items()))
        params = dict(params or {})
    else:
        raise HarnessError(f"{where}: a scorer is a name or {{name: {{params}}}}, got {entry!r}")
    registry = registered_scorers()
    if name not in registry:
        raise HarnessError(f"{where}: unknown scorer {name!r}; known scorers: {', '.join(sorted(registry))}")
    sid = str(params.pop("id", name))
    for key, value in params.items():
        if (key == "path" or key.endswith("_path")) and isinstance(value, str):
            params[key] = str(suite_dir / value)
    try:
        instance = registry[name].factory(**params)
    except (TypeError, ValueError) as e:
        raise HarnessError(f"{where}: scorer {name!r}: {e}") from None
    return ScorerSpec(sid, name, params, registry[name], instance)


METRIC_KEYS = {"scorer", "where", "higher_is_better", "roles", "aggregate"}


def _metric(full_name: str, task: str | None, spec, path, by_output: dict[str, ScorerSpec]) -> MetricDef:
    where = f"{path}:{_line(spec)}"
    name = full_name.split("/", 1)[-1]
    if not isinstance(spec, dict) or "scorer" not in spec:
        raise HarnessError(f"{where}: metric '{name}' needs 'scorer' (the score id it reads)")
    check_keys(spec, METRIC_KEYS, path, f"metric '{name}'")
    if spec["scorer"] not in by_output:
        raise HarnessError(f"{where}: metric '{name}' uses scorer {spec['scorer']!r}, which the task does not run")
    source = by_output[spec["scorer"]]
    defaults = next((d for d in source.info.metrics if (d.score or source.id) == spec["scorer"]), None)
    higher = spec.get("higher_is_better", source.info.higher_is_better)
    aggregate = spec.get("aggregate", defaults.aggregate if defaults else "mean")
    if aggregate not in AGGREGATES:
        raise HarnessError(f"{where}: metric '{name}': aggregate must be one of {', '.join(AGGREGATES)}, got {aggregate!r}")
    roles = spec.get("roles")
    if roles is not None and (not isinstance(roles, list) or not set(roles) <= {"base", "ckpt"}):
        raise HarnessError(f"{where}: metric '{name}': roles must be a list of base/ckpt, got {roles!r}")
    return MetricDef(full_name, task, spec["scorer"], dict(spec.get("where") or {}), bool(higher), roles, aggregate)
