"""A class of handed-in lab reports, made from one real report folder (a test and bench helper).

`real_report(tmp)` trains the tiny model for 6 steps and makes its lab report with `harness
report --lab lab1` (about a minute on a CPU): loss curve and prompt table complete, no sweep.

`make_student(report, dest, n)` copies it as student number n, made distinct the way a real
student's would be and still consistent, so only what a test changes on purpose is flagged:
the fine-tuned answers to the ten prompts are the student's own (random words), the train and
eval losses are scaled by (1 + n/100) in the summary and in the trainer's log alike, the run's
adapter weights hash is the student's, and the written analysis is the student's; then
grade.json records the new sha256 of every evidence file and their digest, as `harness report`
would have.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import string
import tarfile
import zipfile
from pathlib import Path

import yaml

WRITTEN_ITEMS = ("data_quality", "lora_hyperparameters", "base_vs_finetuned")
PLACEHOLDER = "_Write your answer here (replace this line)._"


def real_report(tmp: Path, model: Path) -> Path:
    from harness.cli import main
    from test_train import CONVS

    data = tmp / "train.jsonl"
    data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in CONVS))
    config = {
        "model": str(model), "output_dir": str(tmp / "train"), "data": {"train": str(data), "val_split": 0.25},
        "lora": {"r": 4, "alpha": 8}, "per_device_batch_size": 2, "gradient_accumulation_steps": 1, "max_steps": 6,
        "max_length": 128, "learning_rate": 1e-3, "logging_steps": 1, "save_steps": 3, "eval_steps": 3,
        "gradient_checkpointing": False,
        "rescore": {"suite": "lab1", "tasks": ["ppl"], "max_samples": 2, "final_tasks": ["compare10"],
                    "final_gen": {"max_new_tokens": 4}},
    }
    (tmp / "config.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(tmp / "config.yaml")]) == 0
    assert main(["report", "--lab", "lab1", "--train", str(tmp / "train"), "--out", str(tmp / "report")]) == 0
    return tmp / "report"


def words(rnd: random.Random, n: int) -> str:
    return " ".join("".join(rnd.choices(string.ascii_lowercase, k=rnd.randint(3, 9))) for _ in range(n))


def analysis_of(n: int) -> dict[str, str]:
    rnd = random.Random(f"analysis-{n}")
    return {item: f"Student {n} on {item}: " + words(rnd, 60) for item in WRITTEN_ITEMS}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rehash(folder: Path) -> None:
    """Record the evidence's sha256 and digest in grade.json, as harness report does."""
    grade = json.loads((folder / "grade.json").read_text(encoding="utf-8"))
    ev = folder / "evidence"
    grade["files"] = {str(p.relative_to(ev)): _sha(p) for p in sorted(ev.rglob("*")) if p.is_file()}
    grade["digest"] = hashlib.sha256("".join(f"{k}\0{v}\n" for k, v in sorted(grade["files"].items())).encode()).hexdigest()
    (folder / "grade.json").write_text(json.dumps(grade, indent=2), encoding="utf-8")


def write_analysis(folder: Path, texts: dict[str, str]) -> None:
    md = (folder / "report.md").read_text(encoding="utf-8")
    for item, text in texts.items():
        start, end = f"<!-- answer:{item} -->\n", f"\n<!-- /answer:{item} -->"
        i = md.index(start) + len(start)
        md = md[:i] + text + md[md.index(end, i):]
    (folder / "report.md").write_text(md, encoding="utf-8")


def make_student(report: Path, dest: Path, n: int, *, adapter: str | None = None,
                 analysis: dict[str, str] | None = None) -> Path:
    shutil.copytree(report, dest)
    ev = dest / "evidence"
    rnd = random.Random(f"answers-{n}")
    factor = 1 + n / 100
    for samples in ev.rglob("samples.jsonl"):
        rows = [json.loads(x) for x in samples.read_text(encoding="utf-8").splitlines() if x.strip()]
        for r in rows:
            if r.get("role") == "ckpt" and r.get("task") == "compare10":
                r["output"] = r["raw"] = f"Answer {r['id']} of student {n}: " + words(rnd, 25)
        samples.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    for config in ev.rglob("config.json"):
        c = json.loads(config.read_text(encoding="utf-8"))
        ckpt = (c.get("models") or {}).get("checkpoint")
        if isinstance(ckpt, dict) and ckpt.get("adapter_hash"):
            ckpt["adapter_hash"] = adapter or hashlib.sha256(f"adapter of student {n}".encode()).hexdigest()
            config.write_text(json.dumps(c, indent=2), encoding="utf-8")
    summary = ev / "train" / "training_summary.json"
    s = json.loads(summary.read_text(encoding="utf-8"))
    for key in ("train_loss", "eval_loss"):
        s[key] = [[step, value * factor] for step, value in s.get(key, [])]
    summary.write_text(json.dumps(s, indent=2), encoding="utf-8")
    for state in ev.rglob("trainer_state.json"):
        t = json.loads(state.read_text(encoding="utf-8"))
        for entry in t.get("log_history", []):
            for key in ("loss", "eval_loss"):
                if key in entry:
                    entry[key] = entry[key] * factor
        state.write_text(json.dumps(t, indent=2), encoding="utf-8")
    write_analysis(dest, analysis if analysis is not None else analysis_of(n))
    rehash(dest)
    return dest


def zip_folder(folder: Path, archive: Path, *, top: str | None = None) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                rel = p.relative_to(folder).as_posix()
                z.write(p, f"{top}/{rel}" if top else rel)
    return archive


def tar_folder(folder: Path, archive: Path, *, top: str | None = None) -> Path:
    with tarfile.open(archive, "w:gz") as t:
        t.add(folder, arcname=top or ".")
    return archive


def edit_evidence(folder: Path) -> None:
    """A changed train loss, its sha256 left as recorded: tampered, and the curve no longer
    matches the training log."""
    f = folder / "evidence" / "train" / "training_summary.json"
    s = json.loads(f.read_text(encoding="utf-8"))
    s["train_loss"][0][1] += 1.0
    f.write_text(json.dumps(s, indent=2), encoding="utf-8")


def copied(text: str) -> str:
    """A copied analysis with a few words changed."""
    parts = text.split(" ")
    for i in (8, 30, 50):
        parts[i] = "indeed"
    return " ".join(parts)
