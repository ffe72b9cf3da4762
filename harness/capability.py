"""Capability tasks: lm-evaluation-harness tasks run on the model the run already loaded, one
sample record per lm-eval document.

lm-eval drives the evaluation (documents, prompts, few-shot examples, filters, per-document
metrics: its `simple_evaluate`); the model is reached through `BackendLM`, an lm-eval `LM` over
our Backend's raw-text methods (`loglikelihood_text`, `generate_text`; no chat template, as
lm-eval's own `hf` model). So the same tasks run on every backend that has those methods, with
an adapter's base (adapter off) and checkpoint from one load, and the answers and lm-eval's
verdicts land in samples.jsonl like any other task's. The `lm_eval_metric` scorer then copies
each verdict into scores.jsonl, where summary, compare, gate and baseline read it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from pathlib import Path
from typing import Callable

from harness.capability_spec import LmEvalEntry
from harness.errors import HarnessError
from harness.models.generation_settings import GenerationSettings
from harness.records import SampleRecord

RAW_TEXT_METHODS = ("loglikelihood_text", "generate_text")
_MANAGERS: dict[tuple, object] = {}


def _lm_eval():
    try:
        import lm_eval  # noqa: F401
        from lm_eval.api.model import LM
    except ImportError as e:
        raise HarnessError(f"capability tasks need lm-evaluation-harness: pip install lm-eval ({e})") from None
    return LM


def no_raw_text_reason(backend) -> str | None:
    """Why this backend cannot run capability tasks, or None when it can."""
    if not backend.capabilities().raw_text:
        return (f"the {backend.name} backend has no raw-text {' / '.join(RAW_TEXT_METHODS)} "
                "(capability tasks need them)")
    return None


def make_lm(backend, role: str, batch_size: int):
    """An lm-eval LM whose requests go to `backend` as `role` (base: adapter off)."""
    LM = _lm_eval()

    class BackendLM(LM):
        """lm-eval's three request types over the Backend's raw-text methods, in batches of
        similar length (less padding); results are returned in request order."""

        def __init__(self):
            super().__init__()
            self.unsupported = no_raw_text_reason(backend)

        def _batched(self, items: list, key: Callable, run: Callable, group: Callable | None = None) -> list:
            """Longest first; a batch holds the requests of `batch_size` groups (for loglikelihood:
            contexts, so the choices of one question go together and can share a row)."""
            order = sorted(range(len(items)), key=lambda i: key(items[i]), reverse=True)
            out: list = [None] * len(items)
            chunks: list[list[int]] = []
            seen: set = set()
            for i in order:
                g = group(items[i]) if group else i
                if not chunks or (g not in seen and len(seen) == batch_size):
                    chunks.append([])
                    seen = set()
                seen.add(g)
                chunks[-1].append(i)
            for chunk in chunks:
                for i, result in zip(chunk, run([items[i] for i in chunk])):
                    out[i] = result
            return out

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            pairs = [tuple(r.args) for r in requests]
            if self.unsupported:
                return [(0.0, False)] * len(pairs)
            return self._batched(pairs, lambda p: (len(p[0]), p[0], len(p[1])),
                                 lambda chunk: backend.loglikelihood_text(chunk, role=role), group=lambda p: p[0])

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            # the whole text given the model's prefix token; texts longer than the context window
            # are cut at the left (lm-eval's hf model scores them in windows instead)
            pairs = [("", r.args[0]) for r in requests]
            if self.unsupported:
                return [0.0] * len(pairs)
            results = self._batched(pairs, lambda p: len(p[1]), lambda chunk: backend.loglikelihood_text(chunk, role=role))
            return [logprob for logprob, _ in results]

        def generate_until(self, requests, disable_tqdm: bool = False):
            if self.unsupported:
                return [""] * len(requests)
            out: list = [None] * len(requests)
            groups: dict[str, list[int]] = {}
            for i, r in enumerate(requests):  # one batch shares its generation settings
                groups.setdefault(json.dumps(r.args[1], sort_keys=True, default=str), []).append(i)
            for indices in groups.values():
                kwargs = dict(requests[indices[0]].args[1] or {})
                until = kwargs.get("until") or []
                until = [until] if isinstance(until, str) else list(until)
                settings = _settings(kwargs)
                texts = self._batched(
                    [requests[i].args[0] for i in indices], len,
                    lambda chunk: [g.text for g in backend.generate_text(chunk, settings, until, role=role)],
                )
                for i, text in zip(indices, texts):
                    out[i] = text
            return out

    return BackendLM()


def _settings(gen_kwargs: dict) -> GenerationSettings:
    """lm-eval's generation kwargs as ours: max_gen_toks (default 256, as lm-eval's), greedy
    unless do_sample with a temperature."""
    temperature = float(gen_kwargs.get("temperature") or 0.0) if gen_kwargs.get("do_sample") else 0.0
    return GenerationSettings(max_new_tokens=int(gen_kwargs.get("max_gen_toks") or 256), temperature=temperature,
                              top_p=float(gen_kwargs.get("top_p") or 1.0))


def task_manager(include: Path | None, names: list[str]):
    """lm-eval's task index: the include folder alone when it defines every name (quick: indexing
    all of lm-eval's own tasks takes a while), else lm-eval's tasks plus the folder."""
    _lm_eval()
    from lm_eval.tasks import TaskManager

    with _quiet():
        if include is not None:
            key = (str(include), False)
            if key not in _MANAGERS:
                _MANAGERS[key] = TaskManager(include_path=str(include), include_defaults=False)
            if all(n in _MANAGERS[key].all_tasks for n in names):
                return _MANAGERS[key]
        key = (str(include), True)
        if key not in _MANAGERS:
            _MANAGERS[key] = TaskManager(include_path=str(include) if include else None)
    return _MANAGERS[key]


def check_loadable(task_name: str, entries: list[LmEvalEntry], include: Path | None) -> None:
    """Every lm-eval task is known and its documents load (the hub's datasets, or a local file),
    before any model is loaded: one line naming the task and the dataset otherwise."""
    manager = task_manager(include, [e.name for e in entries])
    for e in entries:
        if e.name not in manager.all_tasks:
            close = [n for n in manager.all_tasks if e.name in n][:5]
            raise HarnessError(f"capability task '{task_name}': lm-eval has no task {e.name!r}"
                               + (f" (similar: {', '.join(close)})" if close else "")
                               + (f"; custom tasks are read from {include}" if include else ""))
        try:
            with _quiet():
                manager.load([e.name])
        except Exception as err:  # noqa: BLE001 (datasets raises many kinds; each becomes one line)
            raise HarnessError(_load_error(task_name, e.name, manager, err)) from None


def _load_error(task_name: str, lm_task: str, manager, err: Exception) -> str:
    entry = manager.task_index.get(lm_task)
    dataset = ((getattr(entry, "cfg", None) or {}).get("dataset_path")
               or next(iter(re.findall(r"'([\w.-]+/[\w.-]+)'", str(err))), None))
    first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
    if dataset:
        return (f"capability task '{task_name}': lm-eval task {lm_task} needs the dataset {dataset}, which could not be "
                f"loaded ({first}); it comes from the Hugging Face hub: run once online to cache it, or leave the "
                f"task out")
    return f"capability task '{task_name}': lm-eval task {lm_task} could not be loaded: {type(err).__name__}: {first}"


def run_entry(backend, entry: LmEvalEntry, *, role: str, model: str, task_name: str, include: Path | None,
              batch_size: int) -> list[SampleRecord]:
    """Every document of one lm-eval task (group: of each subtask) for one role, as sample records."""
    _lm_eval()
    from lm_eval import simple_evaluate

    lm = make_lm(backend, role, batch_size)
    with _quiet():
        results = simple_evaluate(model=lm, tasks=[entry.name], num_fewshot=entry.num_fewshot, limit=entry.limit,
                                  task_manager=task_manager(include, [entry.name]), log_samples=True,
                                  bootstrap_iters=0)
    records = []
    for subtask, docs in (results.get("samples") or {}).items():
        for doc_id, by_filter in _by_doc(docs).items():
            records.append(_record(entry, subtask, doc_id, by_filter, role, model, task_name, lm.unsupported))
    return records


def _by_doc(docs: list[dict]) -> dict[int, dict[str, dict]]:
    """lm-eval logs a document once per filter: doc id -> filter -> logged sample."""
    out: dict[int, dict[str, dict]] = {}
    for d in docs:
        out.setdefault(d["doc_id"], {})[d["filter"]] = d
    return dict(sorted(out.items()))


def _record(entry: LmEvalEntry, subtask: str, doc_id: int, by_filter: dict[str, dict], role: str, model: str,
            task_name: str, unsupported: str | None) -> SampleRecord:
    chosen = entry.filter if entry.filter is not None else ("none" if "none" in by_filter else next(iter(by_filter)))
    if chosen not in by_filter:
        raise HarnessError(f"capability task '{task_name}': lm-eval task {subtask} has no filter {chosen!r} "
                           f"(its filters: {', '.join(by_filter)})")
    logged = _plain(by_filter[chosen])
    sample = {"id": f"{subtask}/{doc_id}", "lm_eval_task": entry.name, "lm_eval_subtask": subtask,
              "doc_id": doc_id, "doc": logged["doc"], "target": logged["target"]}
    args = logged.get("arguments") or [[""]]
    record = SampleRecord(role, model, task_name, sample["id"], str(args[0][0]), sample)
    filtered = logged.get("filtered_resps") or []
    if filtered and isinstance(filtered[0], str):  # generate_until: the answer after the filter
        record.output, record.raw = filtered[0], str((logged.get("resps") or [[""]])[0][0])
    record.lm_eval = {"filter": chosen, "metrics": {m.name: logged[m.name] for m in entry.metrics if m.name in logged},
                      "resps": logged.get("resps"), "filtered_resps": filtered}
    record.unsupported = unsupported
    return record


def _plain(x):
    """JSON-safe (lm-eval's documents may hold tuples or numpy values)."""
    return json.loads(json.dumps(x, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


@contextlib.contextmanager
def _quiet():
    """lm-eval logs every step at INFO/WARNING and draws tqdm bars (it has no switch for them in
    simple_evaluate); the run has its own progress line, so both are off while lm-eval works."""
    from tqdm import tqdm

    logger = logging.getLogger("lm_eval")
    level, init = logger.level, tqdm.__init__
    logger.setLevel(logging.ERROR)

    def silent_init(self, *args, **kwargs):
        kwargs["disable"] = True
        init(self, *args, **kwargs)

    tqdm.__init__ = silent_init
    try:
        yield
    finally:
        logger.setLevel(level)
        tqdm.__init__ = init
