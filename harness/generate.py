"""The generate stage of a run: fixed batches of the work still missing, answered (or scored for
log-likelihood) by a backend, each record appended to samples.jsonl as its batch finishes.

Batches have the same composition on every run and resume, so greedy answers are identical; a
resumed run only regenerates the batches that still miss a sample. A capability task's batch is one
lm-eval task for one role (harness.capability): its documents are known once lm-eval has run.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.capability_spec import LmEvalEntry
from harness.models.backends.base import Generation
from harness.models.checkpoint import Checkpoint
from harness.records import SampleRecord
from harness.rundir import RunDir
from harness.suite import Suite, Task, sample_messages, sample_prompt


@dataclass
class Batch:
    role: str
    task: Task
    samples: list[dict]
    todo: set[str]  # sample ids still missing; the whole batch is regenerated so outputs match
    batch_size: int = 0  # capability tasks: requests per model call (their batch is a whole lm-eval task)


def pending_work(suite: Suite, roles: list[str], done_records: list[SampleRecord], batch_size: int,
                 loglikelihood_length=None) -> list[Batch]:
    """Fixed batches (same composition on every run and resume, so greedy outputs are identical).

    Samples are ordered by the length of their text; loglikelihood tasks by token count when
    `loglikelihood_length(messages, mask)` (the backend's) is given: less padding per batch."""
    done = {r.key for r in done_records}
    started = {(r.role, r.task, (r.sample or {}).get("lm_eval_task")) for r in done_records}
    batches = []
    for role in roles:
        for task in suite.tasks.values():
            if task.kind == "capability":  # one lm-eval task (all its documents) per batch
                batches += [Batch(role, task, [s], {s["id"]}, batch_size) for s in task.samples
                            if (role, task.name, s["id"]) not in started]
                continue
            ordered = sorted(task.samples, key=_sample_order(task, loglikelihood_length))
            for i in range(0, len(ordered), batch_size):
                chunk = ordered[i : i + batch_size]
                todo = {s["id"] for s in chunk if (role, task.name, s["id"]) not in done}
                if todo:
                    batches.append(Batch(role, task, chunk, todo))
    return batches


def _sample_order(task: Task, loglikelihood_length):
    if task.kind == "loglikelihood" and loglikelihood_length is not None:
        return lambda s: (loglikelihood_length(s["messages"], task.mask), s["id"])
    return lambda s: (len(str(s.get("prompt", s.get("messages")))), s["id"])


def execute(suite: Suite, backend, batches: list[Batch], run: RunDir, *, progress, model_names: dict) -> None:
    """The generate stage: answers (or NLLs) of the pending batches, appended as each batch finishes.
    `progress` is a reports.progress object (start / describe / advance; a context manager)."""
    progress.start("generating", sum(len(b.todo) for b in batches))
    with run.appender() as out, progress:
        for batch in batches:
            progress.describe(f"{batch.role:>4} {batch.task.name}")
            if batch.task.kind == "capability":  # its documents are known once lm-eval has run
                for record in _run_capability(backend, batch, model_names):
                    out.write(record.to_dict())
                progress.advance()
                continue
            for sample, record in zip(batch.samples, _run_batch(backend, batch, model_names)):
                if sample["id"] in batch.todo:
                    out.write(record.to_dict())
                    progress.advance()


def _run_batch(backend, batch: Batch, model_names: dict) -> list[SampleRecord]:
    task = batch.task
    model = model_names[batch.role]
    if task.kind == "loglikelihood":
        capabilities = backend.capabilities()
        if not capabilities.loglikelihood:  # recorded, and scored "unscored" with the reason
            records = [new_record(batch.role, model, task, s) for s in batch.samples]
            for record in records:
                record.unsupported = capabilities.loglikelihood_missing or f"the {backend.name} backend has no loglikelihoods"
            return records
        results = backend.loglikelihood([s["messages"] for s in batch.samples], mask=task.mask, role=batch.role)
        out = []
        for s, result in zip(batch.samples, results):
            record = new_record(batch.role, model, task, s)
            record.nll_sum, record.n_tokens, record.n_bytes = result.nll_sum, result.n_tokens, result.n_bytes
            out.append(record)
        return out
    gens = backend.generate([sample_messages(s) for s in batch.samples], task.generation, role=batch.role)
    return [answer_record(batch.role, model, task, s, g) for s, g in zip(batch.samples, gens)]


def _run_capability(backend, batch: Batch, model_names: dict) -> list[SampleRecord]:
    from harness.capability import run_entry  # lm-eval is imported only by runs that have capability tasks

    return run_entry(backend, LmEvalEntry.from_sample(batch.samples[0]), role=batch.role,
                     model=model_names[batch.role], task_name=batch.task.name, include=batch.task.include,
                     batch_size=batch.batch_size or 8)


def new_record(role: str, model: str, task: Task, sample: dict) -> SampleRecord:
    return SampleRecord(role, model, task.name, sample["id"], sample_prompt(sample) if task.kind == "generate" else None,
                        {k: v for k, v in sample.items() if k != "__line__"})


def answer_record(role: str, model: str, task: Task, sample: dict, answer: Generation) -> SampleRecord:
    record = new_record(role, model, task, sample)
    record.output, record.raw, record.finish_reason = answer.text, answer.raw, answer.finish_reason
    record.prompt_tokens, record.completion_tokens = answer.prompt_tokens, answer.completion_tokens
    return record


def model_names(ckpt: Checkpoint) -> dict[str, str]:
    return {"base": ckpt.model, "ckpt": ckpt.adapter or ckpt.model}
