"""Checks across a class's submissions, for a person to look at; they never change a grade.

Each graded submission leaves a fingerprint (`fingerprint`): its evidence digest, the adapter
weights hashes its runs name, the fine-tuned model's answers to the lab's prompts, its written
answers and a hash of its training log's loss values. `cross_flags` compares them pair by pair:

    same evidence digest      every graded file identical
    same adapter weights      a run of the same adapter (weights sha256 as recorded by the run)
    identical training log    the same train and eval losses at the same steps
    same / similar answers    the fine-tuned answers to the lab's prompts, all of them together:
                              identical, or a MinHash-estimated Jaccard similarity of their
                              character shingles at or above the threshold (exact Jaccard reported)
    same / similar analysis   one written item's text, the same way (texts under MIN_TEXT_CHARS
                              characters are not compared: too short to tell copying from chance)

Each flag names both students and the evidence.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from itertools import combinations

from harness.lab.evidence import LabEvidence
from harness.near_duplicates import NearDuplicateIndex, shingles

SIMILARITY = 0.8  # Jaccard similarity of character 5-gram sets from which two texts count as nearly the same
SHINGLE = 5
MIN_TEXT_CHARS = 40
SAME_DIGEST, SAME_ADAPTER, SAME_LOG, SAME_ANSWERS, SAME_ANALYSIS = (
    "same evidence digest", "same adapter weights", "identical training log", "same answers", "same analysis")


@dataclass
class Flag:
    kind: str
    students: tuple[str, str]
    evidence: str
    similarity: float | None = None  # 1.0 identical; None for hash matches

    def to_dict(self) -> dict:
        return asdict(self)


def fingerprint(ev: LabEvidence, written: dict[str, str], digest: str, n_files: int) -> dict:
    """What cross_flags compares, from a graded submission's evidence (JSON-ready)."""
    adapters = {}
    if ev.run is not None and ev.run.adapter_hash:
        adapters[ev.run.adapter_hash] = f"run {_short_path(ev.run.path)}"
    t = ev.training
    if t is not None and t.final_run is not None:
        h = ((t.final_run.config().get("models") or {}).get("checkpoint") or {}).get("adapter_hash")
        if h and h not in adapters:
            adapters[h] = "the training's final run"
    answers = {}
    if ev.run is not None:
        for pid, roles in ev.run.answers(ev.prompts_task).items():
            rec = roles.get("ckpt")
            if rec is not None and (rec.output or "").strip():
                answers[pid] = rec.output
    log = None
    if t is not None and t.log_history:
        train, evals = t.log_points()
        if len(train) + len(evals) >= 2:
            canonical = json.dumps([train, evals], separators=(",", ":"))
            log = {"sha256": hashlib.sha256(canonical.encode()).hexdigest(), "file": f"train/{t.log_file}",
                   "points": f"{len(train)} train and {len(evals)} eval losses"}
    return {"digest": digest, "files": n_files, "adapters": adapters, "answers": answers,
            "written": {k: v for k, v in written.items() if v.strip()}, "training_log": log}


def _short_path(path: str) -> str:
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[parts.index("evidence") + 1:]) if "evidence" in parts else parts[-1]


def _exact_groups(keyed: dict[str, list[str]]) -> list[tuple[str, tuple[str, str]]]:
    """(key, (a, b)) for every pair of students sharing a key."""
    return [(key, pair) for key, students in sorted(keyed.items()) if len(students) > 1
            for pair in combinations(sorted(students), 2)]


def jaccard(a: str, b: str) -> float:
    x, y = shingles(a, SHINGLE), shingles(b, SHINGLE)
    return len(x & y) / len(x | y) if x | y else 1.0


def _similar_pairs(texts: dict[str, str], threshold: float) -> list[tuple[str, str, float]]:
    """(a, b, exact Jaccard) for pairs the MinHash index proposes at or above the threshold."""
    students = sorted(texts)
    if len(students) < 2:
        return []
    index = NearDuplicateIndex(threshold, shingle=SHINGLE)
    index.add([texts[s] for s in students])
    out = []
    for i, j, _estimate in index.pairs():
        a, b = students[i], students[j]
        exact = 1.0 if texts[a] == texts[b] else jaccard(texts[a], texts[b])
        if exact >= threshold:
            out.append((a, b, exact))
    return out


def cross_flags(prints: dict[str, dict], threshold: float = SIMILARITY) -> list[Flag]:
    """Every flag between two graded submissions (student -> fingerprint), in a stable order."""
    flags: list[Flag] = []
    by_digest: dict[str, list[str]] = {}
    by_adapter: dict[str, list[str]] = {}
    by_log: dict[str, list[str]] = {}
    for student, fp in prints.items():
        if fp.get("digest") and fp.get("files"):
            by_digest.setdefault(fp["digest"], []).append(student)
        for h in fp.get("adapters") or {}:
            by_adapter.setdefault(h, []).append(student)
        if fp.get("training_log"):
            by_log.setdefault(fp["training_log"]["sha256"], []).append(student)
    for d, pair in _exact_groups(by_digest):
        flags.append(Flag(SAME_DIGEST, pair, f"digest {d[:16]}… over {prints[pair[0]]['files']} graded files: "
                                             "every evidence file identical"))
    for h, pair in _exact_groups(by_adapter):
        a, b = (prints[s]["adapters"][h] for s in pair)
        flags.append(Flag(SAME_ADAPTER, pair, f"adapter weights {h[:16]}… ({pair[0]}: {a}; {pair[1]}: {b})"))
    for h, pair in _exact_groups(by_log):
        log = prints[pair[0]]["training_log"]
        flags.append(Flag(SAME_LOG, pair, f"{log['file']} and {prints[pair[1]]['training_log']['file']}: the same "
                                          f"{log['points']} at the same steps"))
    answers = {s: fp["answers"] for s, fp in prints.items() if fp.get("answers")}
    joined = {s: "\n".join(a[k] for k in sorted(a)) for s, a in answers.items()}
    for a, b, sim in _similar_pairs(joined, threshold):
        same = sorted(k for k in answers[a] if answers[b].get(k) == answers[a][k])
        common = len(set(answers[a]) | set(answers[b]))
        what = "identical" if sim == 1.0 else f"nearly the same (Jaccard {sim:.2f} of character {SHINGLE}-grams)"
        detail = f"; word for word on {len(same)} of {common}: {', '.join(same[:10])}" if same and sim < 1.0 else ""
        flags.append(Flag(SAME_ANSWERS, (a, b), f"the fine-tuned answers to the {common} lab prompts are {what}{detail}", sim))
    items = sorted({k for fp in prints.values() for k in (fp.get("written") or {})})
    for item in items:
        texts = {s: fp["written"][item] for s, fp in prints.items()
                 if len((fp.get("written") or {}).get(item, "").strip()) >= MIN_TEXT_CHARS}
        for a, b, sim in _similar_pairs(texts, threshold):
            what = "identical" if sim == 1.0 else f"nearly the same (Jaccard {sim:.2f} of character {SHINGLE}-grams)"
            quote = texts[a].strip().replace("\n", " ")
            flags.append(Flag(SAME_ANALYSIS, (a, b), f"written item {item}: {what}; it begins “{quote[:80]}"
                                                     f"{'…' if len(quote) > 80 else ''}”", sim))
    return flags
