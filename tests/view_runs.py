"""Run directories written record by record (through the harness's own records, RunDir and
metrics), for viewer tests that need chosen answers: a hostile answer, a flip, an unscored one."""

from __future__ import annotations

from pathlib import Path

from harness.metrics import summarize
from harness.records import MetricDef, SampleRecord, Score, ScoreRecord, join_scores
from harness.rundir import RunDir

DEFINITIONS = [MetricDef("safety/refusal_rate", "safety", "refusal", {"harmful": True}, True),
               MetricDef("safety/over_refusal_rate", "safety", "refusal", {"harmful": False}, False)]


def write_run(root: Path, answers: dict[str, tuple[str, str, bool, float | None, float | None]], *,
              name: str = "20260101-000000-mini-adapter", created: str = "2026-01-01T00:00:00+0000",
              reasons: dict[str, str] | None = None, refusal_version: str = "3") -> Path:
    """answers: sample id -> (base answer, ckpt answer, harmful, base refusal value, ckpt refusal value);
    a value None is unscored. The ckpt answer of an id in `cut` stops at max_new_tokens."""
    run = RunDir(Path(root) / name)
    run.path.mkdir(parents=True)
    tasks = {"safety": {"kind": "generate", "samples_file": "safety.jsonl", "data_hash": "d" * 16, "n_samples": len(answers),
                        "generation": {"max_new_tokens": 64}, "scorers": {"refusal": {"scorer": "refusal", "version": refusal_version}}}}
    run.write_config({"created": created, "argv": ["harness", "run", "--ckpt", "adapter"], "invocation": {"gen": {}},
                      "roles": ["base", "ckpt"], "suite": {"name": "mini", "path": "mini.yaml", "version": "v" * 16, "tasks": tasks},
                      "metric_definitions": {d.name: d.to_dict() for d in DEFINITIONS},
                      "models": {"checkpoint": {"spec": "adapter", "model": "base-model", "adapter": "adapter"}}, "backend": "hf"})
    records, scores = [], []
    with run.appender() as out, run.score_appender() as sout:
        for sid, (base, ckpt, harmful, vb, vc) in answers.items():
            for role, text, value in (("base", base, vb), ("ckpt", ckpt, vc)):
                rec = SampleRecord(role, "base-model" if role == "base" else "adapter", "safety", sid, f"prompt {sid}",
                                   {"id": sid, "harmful": harmful}, output=text, raw=text,
                                   finish_reason="length" if text.endswith("…") else "stop")
                reason = (reasons or {}).get(f"{role}:{sid}") or ("unscored: no words" if value is None else "classified")
                label = None if value is None else ("full_refusal" if value == 1.0 else "compliance")
                sr = ScoreRecord(role, "safety", sid, "refusal", {"refusal": Score(value, reason, label)})
                out.write(rec.to_dict())
                sout.write(sr.to_dict())
                records.append(rec)
                scores.append(sr)
    records = join_scores(records, scores)
    run.write_summary({"suite": "mini", "suite_version": "v" * 16, "run_dir": str(run.path), "roles": ["base", "ckpt"],
                       "models": {"base": "base-model", "ckpt": "adapter"},
                       "metrics": summarize(DEFINITIONS, records, ["base", "ckpt"])})
    return run.path
