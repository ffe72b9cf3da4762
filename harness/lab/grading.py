"""Grading a lab report against a rubric (YAML; the default is suites/rubrics/lab1.yaml).

An item is either
    evidence  scored from the run files by a check (`check:` one of CHECKS): full points when
              the piece is present, complete and consistent, zero otherwise, and either way the
              evidence it saw and what is missing or inconsistent are listed
    written   the student's own discussion (a section of report.md): scored by the judge when one
              is given (score and reason), otherwise "to be graded by hand" with its points;
              never guessed. `bonus: true` items add to the score but not to the maximum.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from harness.errors import HarnessError
from harness.lab.evidence import LabEvidence
from harness.suite import BUILTIN_SUITES
from harness.io.yaml_lines import check_keys, key_line, line_of, load_yaml

RUBRIC_DIR = BUILTIN_SUITES / "rubrics"
IGNORED_CONFIG_KEYS = {"output_dir", "resume_from_checkpoint"}  # differ between variants by design
COMPLETE, MISSING, INCONSISTENT = "complete", "missing", "inconsistent"
BY_HAND, JUDGED, NOT_WRITTEN = "to be graded by hand", "judged", "not written"


@dataclass
class RubricItem:
    id: str
    title: str
    points: float
    check: str | None = None  # evidence items: the check that scores them
    params: dict = field(default_factory=dict)
    written: bool = False
    question: str = ""  # written items: what the student discusses
    criteria: str = ""  # written items: what the judge (or the instructor) looks for
    what: str = ""  # evidence items: what counts, in words
    bonus: bool = False


@dataclass
class Rubric:
    name: str
    title: str
    suite: str
    prompts_task: str
    items: list[RubricItem]
    path: str
    sha256: str

    @property
    def written_items(self) -> list[RubricItem]:
        return [i for i in self.items if i.written]


ITEM_KEYS = {"id", "title", "points", "check", "params", "written", "question", "criteria", "what", "bonus"}


def find_rubric(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix in {".yaml", ".yml"}:
        if not p.is_file():
            raise HarnessError(f"--rubric {name_or_path}: file not found")
        return p
    builtin = RUBRIC_DIR / f"{name_or_path}.yaml"
    if not builtin.is_file():
        known = ", ".join(sorted(q.stem for q in RUBRIC_DIR.glob("*.yaml")))
        raise HarnessError(f"--lab {name_or_path}: no such lab (built in: {known}); or give --rubric FILE.yaml")
    return builtin


def load_rubric(name_or_path: str) -> Rubric:
    path = find_rubric(name_or_path)
    doc = load_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list) or not doc["items"]:
        raise HarnessError(f"{path}: a rubric is a mapping with a non-empty 'items' list (see suites/rubrics/lab1.yaml)")
    check_keys(doc, {"name", "title", "suite", "prompts_task", "items"}, path, "rubric")
    items, seen = [], set()
    for raw in doc["items"]:
        where = f"{path}:{line_of(raw)}"
        if not isinstance(raw, dict):
            raise HarnessError(f"{where}: each rubric item is a mapping (id, title, points, check or written)")
        check_keys(raw, ITEM_KEYS, path, "rubric item")
        item_id = str(raw.get("id") or "")
        if not item_id or item_id in seen:
            raise HarnessError(f"{where}: each item needs a unique id ({'missing' if not item_id else f'{item_id!r} repeats'})")
        seen.add(item_id)
        points = raw.get("points")
        if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
            raise HarnessError(f"{path}:{key_line(raw, 'points')}: item {item_id}: points must be a number >= 0, got {points!r}")
        written, check = bool(raw.get("written")), raw.get("check")
        if written == bool(check):
            raise HarnessError(f"{where}: item {item_id}: give either `check: NAME` (one of {', '.join(CHECKS)}) or `written: true`")
        if check and check not in CHECKS:
            raise HarnessError(f"{path}:{key_line(raw, 'check')}: item {item_id}: unknown check {check!r}; checks: {', '.join(CHECKS)}")
        params = dict(raw.get("params") or {})
        if check:
            unknown = set(params) - set(CHECK_PARAMS[check])
            if unknown:
                raise HarnessError(f"{path}:{key_line(raw, 'params')}: item {item_id}: unknown parameter {sorted(unknown)[0]!r} "
                                   f"of check {check}; parameters: {', '.join(CHECK_PARAMS[check]) or 'none'}")
        items.append(RubricItem(item_id, str(raw.get("title") or item_id), float(points), check, params, written,
                                str(raw.get("question") or ""), str(raw.get("criteria") or ""), str(raw.get("what") or ""),
                                bool(raw.get("bonus"))))
    return Rubric(str(doc.get("name") or path.stem), str(doc.get("title") or doc.get("name") or path.stem),
                  str(doc.get("suite") or "lab1"), str(doc.get("prompts_task") or "compare10"), items, str(path),
                  hashlib.sha256(path.read_bytes()).hexdigest())


# ---- evidence checks ---------------------------------------------------------------------------
@dataclass
class Finding:
    """What a check saw (evidence), what is absent (missing) and what contradicts (inconsistent)."""
    evidence: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    inconsistent: list[str] = field(default_factory=list)


def check_loss_curve(ev: LabEvidence, min_train_points: int = 5, min_eval_points: int = 2) -> Finding:
    f = Finding()
    t = ev.training
    if t is None:
        f.missing.append("no training directory (harness report --train DIR: the output_dir of harness train)")
        return f
    if t.summary is None:
        f.missing.append(f"{t.path}: no training_summary.json (the training did not finish)")
        return f
    train, evals = t.train_loss, t.eval_loss
    if len(train) < min_train_points:
        f.missing.append(f"only {len(train)} logged train losses (at least {min_train_points}; lower logging_steps)")
    if len(evals) < min_eval_points:
        f.missing.append(f"only {len(evals)} eval losses (at least {min_eval_points}; lower eval_steps)")
    if train:
        f.evidence.append(f"train loss: {len(train)} points, steps {train[0][0]}-{train[-1][0]}, {train[0][1]:.3f} -> {train[-1][1]:.3f}")
    if evals:
        f.evidence.append(f"eval loss: {len(evals)} points, {evals[0][1]:.3f} -> {evals[-1][1]:.3f}")
    diagnosis = t.summary.get("diagnosis") or {}
    if diagnosis.get("kind"):
        f.evidence.append(f"diagnosis: {diagnosis['kind']}: {diagnosis.get('message', '')}")
    else:
        f.missing.append("no diagnosis of the curve in training_summary.json")
    if t.log_file is None:
        f.missing.append("no checkpoint with trainer_state.json: the curve cannot be checked against the training log "
                         "(keep the last checkpoint)")
        return f
    log_train, log_eval = t.log_points()
    upto = max([s for s, _ in log_train + log_eval] or [0])
    for what, curve, log in (("train", train, log_train), ("eval", evals, log_eval)):
        drawn = {s: v for s, v in curve if s <= upto}
        logged = dict(log)
        wrong = [s for s in sorted(set(drawn) | set(logged))
                 if s not in drawn or s not in logged or abs(drawn[s] - logged[s]) > 1e-6 * max(1.0, abs(logged[s]))]
        if wrong:
            s = wrong[0]
            says = lambda d: f"{d[s]:.4f}" if s in d else "nothing"  # noqa: E731
            f.inconsistent.append(f"the {what} loss curve does not match the training log {t.log_file}: at step {s} the curve "
                                  f"has {says(drawn)}, the log {says(logged)} ({len(wrong)} step(s) differ)")
    if not f.inconsistent:
        f.evidence.append(f"matches the training log {t.log_file} at every logged step up to {upto} "
                          f"({len(log_train)} train, {len(log_eval)} eval points)")
    return f


def check_prompt_table(ev: LabEvidence) -> Finding:
    f = Finding()
    r = ev.run
    if r is None:
        f.missing.append("no run of the fine-tuned adapter (harness report --run RUN_DIR, or a --train directory whose "
                         "final adapter was scored)")
        return f
    answers = r.answers(ev.prompts_task)
    if not answers:
        f.missing.append(f"{r.path}: no {ev.prompts_task} answers (run the whole suite: harness run --suite {ev.lab} --ckpt ...)")
        return f
    cut = 0
    for p in ev.prompts:
        got = answers.get(p["id"], {})
        for role, label in (("base", "base model"), ("ckpt", "fine-tuned model")):
            rec = got.get(role)
            if rec is None:
                why = " (the run was made with --no-base?)" if role == "base" else ""
                f.missing.append(f"no {label} answer to {p['id']}{why}")
                continue
            if rec.prompt != p["prompt"]:
                f.inconsistent.append(f"{p['id']} ({label}) was asked {rec.prompt!r}, not the lab's prompt {p['prompt']!r}")
            if rec.output is None:
                f.missing.append(f"no {label} answer text for {p['id']}")
            cut += rec.finish_reason == "length"
    extra = sorted(set(answers) - {p["id"] for p in ev.prompts})
    if extra:
        f.inconsistent.append(f"answers to prompts that are not the lab's: {', '.join(extra)}")
    if not f.missing and not f.inconsistent:
        f.evidence.append(f"all {len(ev.prompts)} lab prompts, verbatim, answered by the base and the fine-tuned model ({ev.sources.get('run', r.path)})")
    if cut:
        f.evidence.append(f"{cut} answers stopped at max_new_tokens (marked in the table)")
    t = ev.training
    if t is not None and t.final_run is not None and Path(t.final_run.path).resolve() != Path(r.path).resolve():
        trained = ((t.final_run.config().get("models") or {}).get("checkpoint") or {}).get("adapter_hash")
        if trained and r.adapter_hash and trained != r.adapter_hash:
            f.inconsistent.append(f"the run scored another adapter (weights {r.adapter_hash}) than this training's final "
                                  f"adapter (weights {trained})")
        elif trained and r.adapter_hash:
            f.evidence.append(f"the run's adapter is this training's final adapter (weights {trained})")
    return f


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict) and k in {"lora", "data", "rescore"}:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def check_sweep(ev: LabEvidence, min_variants: int = 2) -> Finding:
    f = Finding()
    s = ev.sweep
    if s is None:
        f.missing.append("no hyperparameter sweep (fill it with: harness sweep --config CONFIG --grid learning_rate=2e-5,2e-4 "
                         "--out sweeps/lr, then harness report ... --sweep sweeps/lr)")
        return f
    done = [v for v in s.variants if v.finished and v.snapshot is not None]
    stopped = [v for v in s.variants if v.status == "smoke-failed"]
    if len(done) < min_variants:
        f.missing.append(f"{len(done)} finished variant(s) with final scores in {s.path} (at least {min_variants}; "
                         f"finish the sweep by running the same harness sweep command again)")
    if stopped:
        f.evidence.append(f"stopped by the smoke test: {', '.join(v.name for v in stopped)}")
    ref = done[0] if done else None
    changed: dict[str, list] = {}
    for v in done:
        if not v.train:
            f.missing.append(f"variant {v.name}: no loss curve")
        got = v.snapshot.sample_ids("ckpt").get(ev.prompts_task, set())
        lacking = [p["id"] for p in ev.prompts if p["id"] not in got]
        if lacking:
            f.missing.append(f"variant {v.name}: no answers to {', '.join(lacking)}")
        if v.not_comparable:
            f.inconsistent.append(f"variant {v.name}: not comparable with {ref.name}: {v.not_comparable}")
        if v is ref or v.config is None or ref.config is None:
            continue
        a, b = _flat(ref.config), _flat(v.config)
        differs = {k for k in set(a) | set(b) if k not in IGNORED_CONFIG_KEYS and a.get(k) != b.get(k)}
        named = set(v.overrides) | set(ref.overrides)
        unnamed = sorted(differs - named)
        if unnamed:
            k = unnamed[0]
            f.inconsistent.append(f"variant {v.name} also differs from {ref.name} in {k} ({a.get(k)!r} vs {b.get(k)!r}), "
                                  "which the sweep does not name")
        if not differs:
            f.inconsistent.append(f"variant {v.name} trains the same config as {ref.name}: the named parameter did not change")
        for k in sorted(named & differs):
            changed.setdefault(k, [a.get(k)]).append(b.get(k))
    if changed:
        f.evidence.append("changed: " + "; ".join(f"{k} ({', '.join(str(x) for x in vals)})" for k, vals in changed.items()))
    if done:
        f.evidence.append(f"{len(done)} finished variants, each with its loss curve, final-suite scores and the "
                          f"{len(ev.prompts)} answers; ranked by {s.metric}")
    return f


CHECKS: dict[str, Callable[..., Finding]] = {"loss_curve": check_loss_curve, "prompt_table": check_prompt_table,
                                             "sweep": check_sweep}
CHECK_PARAMS = {"loss_curve": ("min_train_points", "min_eval_points"), "prompt_table": (), "sweep": ("min_variants",)}


# ---- grading -----------------------------------------------------------------------------------
@dataclass
class WrittenVerdict:
    score: float | None  # None: the judge could not decide (the item stays to be graded by hand)
    reason: str = ""
    error: str | None = None


WrittenJudge = Callable[[RubricItem, str], WrittenVerdict]


@dataclass
class ItemGrade:
    id: str
    title: str
    kind: str  # evidence | written
    points: float
    earned: float | None  # None: not graded yet (by hand)
    status: str
    bonus: bool = False
    evidence: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    inconsistent: list[str] = field(default_factory=list)
    reason: str = ""  # written items: the judge's reason, or why it is left to a person


@dataclass
class Grade:
    rubric: str
    rubric_sha256: str
    items: list[ItemGrade]
    files: dict[str, str] = field(default_factory=dict)  # graded file (evidence-relative) -> sha256
    digest: str = ""

    def _sum(self, kind: str | None, field_: str) -> float:
        picked = [i for i in self.items if (kind is None or i.kind == kind)]
        if field_ == "max":
            return sum(i.points for i in picked if not i.bonus)
        return sum(i.earned or 0.0 for i in picked)

    @property
    def evidence_earned(self) -> float:
        return self._sum("evidence", "earned")

    @property
    def evidence_max(self) -> float:
        return self._sum("evidence", "max")

    @property
    def earned(self) -> float:
        return self._sum(None, "earned")

    @property
    def maximum(self) -> float:
        return self._sum(None, "max")

    @property
    def pending(self) -> float:
        """Points still to be graded by hand."""
        return sum(i.points for i in self.items if i.earned is None and not i.bonus)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(evidence_earned=self.evidence_earned, evidence_max=self.evidence_max, earned=self.earned,
                   maximum=self.maximum, pending_by_hand=self.pending)
        return out


def grade(ev: LabEvidence, rubric: Rubric, written: dict[str, str], judge: WrittenJudge | None = None) -> Grade:
    """Score every item. `written`: item id -> the student's text (empty: not written)."""
    items = []
    for item in rubric.items:
        if item.check:
            f = CHECKS[item.check](ev, **item.params)
            status = INCONSISTENT if f.inconsistent else MISSING if f.missing else COMPLETE
            items.append(ItemGrade(item.id, item.title, "evidence", item.points, item.points if status == COMPLETE else 0.0,
                                   status, item.bonus, f.evidence, f.missing, f.inconsistent))
            continue
        text = (written.get(item.id) or "").strip()
        g = ItemGrade(item.id, item.title, "written", item.points, None, BY_HAND, item.bonus)
        if not text:
            g.earned, g.status, g.reason = 0.0, NOT_WRITTEN, "the section is empty"
        elif judge is None:
            g.reason = f"{len(text.split())} words written; no --judge given"
        else:
            verdict = judge(item, text)
            if verdict.score is None:
                g.reason = f"the judge could not grade it ({verdict.error}); left to a person"
            else:
                g.earned, g.status, g.reason = min(item.points, max(0.0, verdict.score)), JUDGED, verdict.reason
        items.append(g)
    return Grade(rubric.name, rubric.sha256, items)
