"""`harness score`: score answers another system produced, with the same scorers and records.

Each row: {"response": "...", "id": "<a sample id of the task>"} or {"response": ..., "prompt": ...}.
A row whose prompt is a sample's takes that sample's fields (and its id, unless the row has its
own); a prompt the task does not have is scored as a new sample with the row's own fields (e.g.
`expect: refuse` for the safety task). `finish_reason` ("stop"/"length") is used when given.
Every row is its own sample: when several rows answer the same sample (several models' answers
to one prompt), each after the first is scored under `<id>@line<N>`, never merged or dropped.
A `label` (a person's label of the answer, e.g. full_refusal) makes the summary report the
classifier's agreement with it (harness/app/label_agreement.py).
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from harness.errors import HarnessError
from harness.io.jsonl import read_jsonl
from harness.app.label_agreement import check_human_labels
from harness.records import SampleRecord
from harness.rundir import RunDir, package_versions
from harness.app.run import finish
from harness.run_config import metric_definitions, suite_description
from harness.scoring import score_run
from harness.suite import Task, load_suite, sample_prompt
from harness.text import split_thinking
from reports.label_agreement import print_label_agreement

_ROW_KEYS = {"response", "finish_reason", "__line__"}


def score_responses(suite_name: str, task_name: str, responses: str, *, runs_dir: str = "runs",
                    name: str | None = None, console: Console | None = None) -> RunDir:
    console = console or Console()
    suite = load_suite(suite_name, tasks=[task_name])
    task = suite.tasks[task_name]
    if task.kind != "generate":
        raise HarnessError(f"task '{task_name}' scores loglikelihoods, not answers; `harness score` needs a generate task")
    rows = read_jsonl(responses, what="responses file")
    if not rows:
        raise HarnessError(f"{responses}: no rows")
    check_human_labels(rows, task, responses)  # a `label` per row: the summary reports agreement with it
    model = name or f"external:{Path(responses).name}"
    records = [_record(task, row, responses, model) for row in rows]  # every row checked before anything is written
    _one_sample_per_row(records, rows, console)
    run = RunDir.create(Path(runs_dir), suite.name, Path(responses).stem)
    run.write_config({
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "invocation": None,  # nothing to resume: the answers are given
        "roles": ["ckpt"],
        "suite": suite_description(suite),
        "metric_definitions": metric_definitions(suite, set()),
        "models": {"checkpoint": {"spec": str(responses), "model": model, "adapter": None}},
        "responses_file": str(responses),
        "versions": package_versions(),
    })
    with run.appender() as out:
        for record in records:
            out.write(record.to_dict())
    score_run(run, suite)
    summary = finish(run, suite, ["ckpt"], console=console)
    print_label_agreement(summary, console)
    return run


def _record(task: Task, row: dict, path: str, model: str) -> SampleRecord:
    sample = _match_sample(task, row, path)
    response = row["response"]
    return SampleRecord("ckpt", model, task.name, sample["id"], sample_prompt(sample),
                        {k: v for k, v in sample.items() if k != "__line__"}, output=split_thinking(response), raw=response,
                        finish_reason=row.get("finish_reason"), prompt_tokens=0, completion_tokens=0)


def _one_sample_per_row(records: list[SampleRecord], rows: list[dict], console: Console) -> None:
    """Records are keyed by sample id: a row answering a sample an earlier row answered gets its own id."""
    seen: set[str] = set()
    renamed = []
    for record, row in zip(records, rows):
        if record.id in seen:
            record.id = record.sample["id"] = f"{record.id}@line{row['__line__']}"
            renamed.append(record.id)
        seen.add(record.id)
    if renamed:
        console.print(f"{len(renamed)} rows answer a sample an earlier row answered; each is scored as its own sample "
                      f"({', '.join(renamed[:3])}{', ...' if len(renamed) > 3 else ''})")


def _match_sample(task: Task, row: dict, path: str) -> dict:
    where = f"{path}:{row['__line__']}"
    if not isinstance(row.get("response"), str):
        raise HarnessError(f"{where}: each row needs a string 'response'")
    extra = {k: v for k, v in row.items() if k not in _ROW_KEYS}
    if "id" in row:
        for s in task.samples:
            if s["id"] == str(row["id"]):
                return {**s, **extra, "id": s["id"]}
        if "prompt" not in row:
            raise HarnessError(f"{where}: id {row['id']!r} is not a sample of task '{task.name}' and the row has no 'prompt'")
    if "prompt" not in row:
        raise HarnessError(f"{where}: each row needs 'id' (a sample of task '{task.name}') or 'prompt'")
    for s in task.samples:
        if "prompt" in s and sample_prompt(s) == row["prompt"]:  # the sample's fields; the row's own id if it has one
            return {**s, **extra, "id": str(row.get("id", s["id"]))}
    new = dict(extra)
    new["id"] = str(row.get("id", f"external-line{row['__line__']}"))
    return new
