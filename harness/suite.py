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
        metrics:                              # optional; default: one metric per scorer
          json_validity_rate: {scorer: json_valid_strict}
        judge: {pairwise: true, rubric: true, refusal: false}   # used only with --judge (judges/)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.generation import GenerationSettings
from harness.jsonl import read_jsonl
from harness.loglikelihood_metrics import LOGLIKELIHOOD_METRICS
from harness.yaml_lines import check_keys, key_line, line_of as _line, load_yaml  # noqa: F401  (re-exported)
from suites.scorers import registered_scorers

BUILTIN_SUITES = Path(__file__).resolve().parent.parent / "suites"
TASK_KINDS = ("generate", "loglikelihood")


@dataclass
class ScorerSpec:
    id: str  # the key of this scorer's verdicts in records and the default metric name
    name: str  # the registered scorer
    params: dict[str, Any]
    fn: Any
    higher_is_better: bool


@dataclass
class MetricSpec:
    name: str
    scorer: str  # a ScorerSpec id, or "perplexity" / "bits_per_byte" for loglikelihood tasks
    where: dict[str, Any] = field(default_factory=dict)
    higher_is_better: bool = True
    roles: tuple[str, ...] | None = None  # only these roles have it (e.g. a win rate of ckpt over base)

    def selects(self, sample: dict) -> bool:
        return all(sample.get(k) == v for k, v in self.where.items())


@dataclass(frozen=True)
class TaskJudge:
    """What an LLM judge does for a task when the run has --judge (see judges/ and docs/judge.md)."""

    pairwise: bool = False  # base vs checkpoint, both orders
    rubric: bool = False  # 1-10 per dimension, each answer
    refusal: bool = False  # a second refusal classifier next to the built-in one


@dataclass
class Task:
    name: str
    kind: str
    samples_file: Path
    samples: list[dict]
    generation: GenerationSettings
    scorers: list[ScorerSpec]
    metrics: list[MetricSpec]
    mask: str = "assistant"  # loglikelihood tasks: "assistant" or "all"
    side_by_side: bool = False  # report shows base and checkpoint answers next to each other
    judge: TaskJudge | None = None

    def data_hash(self) -> str:
        return _file_hash(self.samples_file)


@dataclass
class Suite:
    name: str
    path: Path
    description: str
    tasks: dict[str, Task]
    pooled: list[tuple[str, MetricSpec]]  # (group name, metric) over records of all tasks

    def version(self) -> str:
        """Hash of the YAML and every data file: two runs are comparable only if it matches."""
        return suite_version(self.path, [task.data_hash() for task in self.tasks.values()])


def suite_version(yaml_path: Path, data_hashes: list[str]) -> str:
    """The version of a suite file with these tasks' data (in task order)."""
    h = hashlib.sha256(Path(yaml_path).read_bytes())
    for data_hash in data_hashes:
        h.update(data_hash.encode())
    return h.hexdigest()[:16]


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def list_suites() -> list[Path]:
    return sorted(BUILTIN_SUITES.glob("*.yaml"))


def find_suite(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"}:
        if not path.is_file():
            raise HarnessError(f"suite file not found: {path}")
        return path
    builtin = BUILTIN_SUITES / f"{name_or_path}.yaml"
    if builtin.is_file():
        return builtin
    names = ", ".join(p.stem for p in list_suites()) or "none"
    raise HarnessError(f"unknown suite '{name_or_path}'; built-in suites: {names} (or pass a path to a .yaml file)")


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
    check_keys(doc, {"name", "description", "generation", "every_generation", "pooled", "tasks"}, path, "suite")

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
    every_id = {}
    for name, spec in doc["tasks"].items():
        entries = list((spec or {}).get("scorers") or []) + list(every)
        every_id.update({s.id: s for s in (_scorer(e, f"{path}:{_line(spec)}") for e in entries)})
    running = _all_scorer_ids(loaded)
    pooled = []
    for group, metrics in (doc.get("pooled") or {}).items():
        for mname, mspec in (metrics or {}).items():
            metric = _metric(mname, mspec, path, every_id)
            if metric.scorer in running:
                pooled.append((group, metric))
    return Suite(doc.get("name", path.stem), path, doc.get("description", ""), loaded, pooled)


def _load_task(name, spec, path, suite_gen, every, data_file, gen_overrides) -> Task:
    where = f"{path}:{_line(spec)}"
    if not isinstance(spec, dict):
        raise HarnessError(f"{where}: task '{name}' must be a mapping")
    check_keys(spec, {"kind", "samples", "generation", "scorers", "metrics", "mask", "side_by_side", "description", "judge"},
               path, f"task '{name}'")
    kind = spec.get("kind", "generate")
    if kind not in TASK_KINDS:
        raise HarnessError(f"{where}: task '{name}': kind must be one of {', '.join(TASK_KINDS)}, got {kind!r}")
    if "samples" not in spec and not data_file:
        raise HarnessError(f"{where}: task '{name}' needs 'samples' (a JSONL file)")
    samples_file = Path(data_file) if data_file else (path.parent / spec["samples"])
    samples = _load_samples(samples_file, kind)
    task_gen = spec.get("generation") or {}
    gen = suite_gen.updated(task_gen, f"{path}:{_line(task_gen)}").updated(gen_overrides, "command line")
    scorer_entries = list(spec.get("scorers") or []) + (list(every) if kind == "generate" else [])
    scorers = [_scorer(entry, where) for entry in scorer_entries]
    ids = [s.id for s in scorers]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise HarnessError(f"{where}: task '{name}' has two scorers with id {sorted(dupes)[0]!r}; give one an 'id'")
    if kind == "loglikelihood":
        metrics = [_metric(m, s, path, set(LOGLIKELIHOOD_METRICS)) for m, s in (spec.get("metrics") or {}).items()]
        metrics = metrics or [MetricSpec(m, m, higher_is_better=False) for m in LOGLIKELIHOOD_METRICS]
    else:
        by_id = {s.id: s for s in scorers}
        metrics = [_metric(m, s, path, by_id) for m, s in (spec.get("metrics") or {}).items()]
        covered = {m.scorer for m in metrics}
        metrics += [MetricSpec(s.id, s.id, {}, s.higher_is_better) for s in scorers if s.id not in covered and s.name not in every]
    mask = spec.get("mask", "assistant")
    if mask not in {"assistant", "all"}:
        raise HarnessError(f"{where}: task '{name}': mask must be 'assistant' or 'all', got {mask!r}")
    judge = _task_judge(spec.get("judge"), path, name, kind)
    return Task(name, kind, samples_file, samples, gen, scorers, metrics, mask, bool(spec.get("side_by_side")), judge)


def _task_judge(spec, path: Path, task: str, kind: str) -> TaskJudge | None:
    if spec is None:
        return None
    where = f"{path}:{_line(spec)}"
    if not isinstance(spec, dict):
        raise HarnessError(f"{where}: task '{task}': judge must be a mapping, e.g. {{pairwise: true, rubric: true}}")
    check_keys(spec, {"pairwise", "rubric", "refusal"}, path, f"task '{task}' judge")
    for key, value in spec.items():
        if not isinstance(value, bool):
            raise HarnessError(f"{where}: task '{task}': judge.{key} must be true or false, got {value!r}")
    if kind != "generate":
        raise HarnessError(f"{where}: task '{task}': only generate tasks can be judged")
    return TaskJudge(**spec)


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


def _scorer(entry, where) -> ScorerSpec:
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
    try:
        fn = registry[name].factory(**params)
    except (TypeError, ValueError) as e:
        raise HarnessError(f"{where}: scorer {name!r}: {e}") from None
    return ScorerSpec(sid, name, params, fn, registry[name].higher_is_better)


def _metric(name, spec, path, scorer_ids) -> MetricSpec:
    where = f"{path}:{_line(spec)}"
    if not isinstance(spec, dict) or "scorer" not in spec:
        raise HarnessError(f"{where}: metric '{name}' needs 'scorer'")
    check_keys(spec, {"scorer", "where", "higher_is_better"}, path, f"metric '{name}'")
    if spec["scorer"] not in scorer_ids:
        raise HarnessError(f"{where}: metric '{name}' uses scorer {spec['scorer']!r}, which the task does not run")
    higher = spec.get("higher_is_better")
    if higher is None:
        higher = scorer_ids[spec["scorer"]].higher_is_better if isinstance(scorer_ids, dict) else False
    return MetricSpec(name, spec["scorer"], dict(spec.get("where") or {}), bool(higher))


def _all_scorer_ids(tasks: dict[str, Task]) -> dict[str, ScorerSpec]:
    return {s.id: s for t in tasks.values() for s in t.scorers}
