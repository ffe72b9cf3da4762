#!/usr/bin/env python
"""Train the refusal classifier's weights (suites/scorers/refusal_model.json) and report its
agreement with the human labels of the development set (docs/validity.md).

    python scripts/train_refusal_model.py                 # train, write the weights, report
    python scripts/train_refusal_model.py --report        # report on the shipped weights only
    python scripts/train_refusal_model.py --no-pyrit      # without pyrit's labelled answers

Data: tests/data/refusal_dev.jsonl (answers written or labelled for this project, with a fixed
train / heldout split) and the answers in the refusal-scorer evaluation CSVs of the `pyrit`
wheel (MIT licence), fetched with `pip download --no-deps pyrit==1.1.0` into the cache
(~/.cache/sft-harness/pyrit, or $SFT_HARNESS_CACHE/pyrit) and labelled by this project in
tests/data/refusal_dev_pyrit_labels.jsonl (their text is not copied into this repository).
tests/data/refusal_blind_v6.jsonl, refusal_blind_real_v7.jsonl and refusal_blind_real_v8.jsonl are never read here: they measure a
version on answers nobody tuned on (docs/validity.md). The heldout split is never used to choose anything: hyperparameters come from 5-fold
cross-validation on the train split. Training is deterministic (zero start, full-batch steps).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.stats import cohen_kappa  # noqa: E402
from suites.scorers import refusal as rules  # noqa: E402
from suites.scorers.refusal_features import evidence  # noqa: E402
from suites.scorers.refusal_model import MODEL_FILE, LinearModel, load_model  # noqa: E402

DEV = ROOT / "tests" / "data" / "refusal_dev.jsonl"
PYRIT_LABELS = ROOT / "tests" / "data" / "refusal_dev_pyrit_labels.jsonl"
PYRIT_VERSION = "1.1.0"
LABELS = rules.LABELS
MIN_DF = 3  # a word feature needs this many training answers
STEPS, LR = 600, 0.5
GRID = [(ev, lex) for ev in (0.001, 0.003) for lex in (0.01, 0.03)]  # L2 on evidence / word weights


# ---- data --------------------------------------------------------------------------------------
def split_of(text: str) -> str:
    return "heldout" if int(hashlib.sha256(text.encode()).hexdigest(), 16) % 4 == 0 else "train"


def load_own() -> list[dict]:
    return [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]


def pyrit_wheel() -> Path:
    cache = Path(os.environ.get("SFT_HARNESS_CACHE", Path.home() / ".cache" / "sft-harness")) / "pyrit"
    wheel = cache / f"pyrit-{PYRIT_VERSION}-py3-none-any.whl"
    if not wheel.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"pyrit=={PYRIT_VERSION}",
                        "-d", str(cache)], check=True)
    return wheel


def load_pyrit() -> list[dict]:
    labels = [json.loads(line) for line in PYRIT_LABELS.read_text().splitlines() if line.strip()]
    rows = []
    with zipfile.ZipFile(pyrit_wheel()) as z:
        tables = {}
        for entry in labels:
            name = f"pyrit/datasets/scorer_evals/{entry['pyrit_file']}"
            if name not in tables:
                text = z.read(name).decode("utf-8")
                body = "".join(line for line in text.splitlines(True) if not line.startswith("#"))
                tables[name] = list(csv.DictReader(io.StringIO(body)))
            if entry["label"] is None:
                continue
            row = tables[name][entry["pyrit_row"]]
            response = row["assistant_response"]
            if hashlib.sha256(response.encode()).hexdigest()[:16] != entry["sha256"]:
                raise SystemExit(f"pyrit {entry['pyrit_file']} row {entry['pyrit_row']}: text differs from the labelled one")
            rows.append({"id": entry["sha256"][:12], "split": split_of(response), "source": "pyrit", "lang": "en",
                         "kind": "pyrit", "label": entry["label"], "prompt": row["objective"], "response": response})
    return rows


# ---- model -------------------------------------------------------------------------------------
def featurize(rows: list[dict]) -> list[dict[str, float]]:
    return [evidence(r["response"]).features for r in rows]


def vocabulary(feats: list[dict[str, float]]) -> list[str]:
    df = Counter(name for f in feats for name in f)
    return sorted(n for n, c in df.items() if not n.startswith(("f:", "w:")) or c >= MIN_DF)


def matrix(feats: list[dict[str, float]], vocab: list[str]) -> np.ndarray:
    index = {n: j for j, n in enumerate(vocab)}
    x = np.zeros((len(feats), len(vocab)))
    for i, f in enumerate(feats):
        for n, v in f.items():
            if n in index:
                x[i, index[n]] = v
    return x


def train(x: np.ndarray, y: np.ndarray, vocab: list[str], lam_ev: float, lam_lex: float) -> np.ndarray:
    """Multinomial logistic regression, class-balanced (sqrt), L2 per feature kind; full-batch Adam."""
    n, d = x.shape
    k = len(LABELS)
    counts = np.bincount(y, minlength=k).astype(float)
    sample_w = (n / (k * np.maximum(counts, 1)))[y] ** 0.5
    sample_w /= sample_w.sum()
    lam = np.array([0.0 if v == "bias" else lam_lex if v.startswith(("f:", "w:")) else lam_ev for v in vocab])
    onehot = np.eye(k)[y]
    w = np.zeros((d, k))
    m = np.zeros_like(w)
    v2 = np.zeros_like(w)
    for t in range(1, STEPS + 1):
        s = x @ w
        s -= s.max(axis=1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=1, keepdims=True)
        grad = x.T @ ((p - onehot) * sample_w[:, None]) + lam[:, None] * w
        m = 0.9 * m + 0.1 * grad
        v2 = 0.999 * v2 + 0.001 * grad ** 2
        w -= LR * 0.05 * (m / (1 - 0.9 ** t)) / (np.sqrt(v2 / (1 - 0.999 ** t)) + 1e-8)
    return w


def to_model(w: np.ndarray, vocab: list[str]) -> LinearModel:
    return LinearModel(LABELS, {n: tuple(float(round(x, 4)) for x in w[j]) for j, n in enumerate(vocab)
                                if np.abs(w[j]).max() >= 5e-5})


def predict_rows(model: LinearModel, feats: list[dict[str, float]]) -> list[str]:
    out = []
    for f in feats:
        p = model.probabilities(f)
        out.append(model.labels[max(range(len(p)), key=p.__getitem__)])
    return out


# ---- report ------------------------------------------------------------------------------------
def binary(label: str) -> str:
    return "complied" if label == rules.COMPLIANCE else "refused"


def agreement(human: list[str], pred: list[str]) -> dict:
    hb, pb = [binary(h) for h in human], [binary(p) for p in pred]
    n = len(human)
    return {"n": n,
            "binary": sum(a == b for a, b in zip(hb, pb)) / n if n else None,
            "three_class": sum(a == b for a, b in zip(human, pred)) / n if n else None,
            "kappa_binary": cohen_kappa(hb, pb), "kappa_three_class": cohen_kappa(human, pred)}


def confusion(human: list[str], pred: list[str]) -> dict:
    return {h: {p: sum(1 for a, b in zip(human, pred) if (a, b) == (h, p)) for p in LABELS} for h in LABELS}


def report(title: str, rows: list[dict], pred: list[str]) -> dict:
    human = [r["label"] for r in rows]
    out = {"all": agreement(human, pred), "confusion": confusion(human, pred)}
    for field in ("lang", "source"):
        for value in sorted({r[field] for r in rows}):
            idx = [i for i, r in enumerate(rows) if r[field] == value]
            out[f"{field}={value}"] = agreement([human[i] for i in idx], [pred[i] for i in idx])
    print(f"\n== {title}")
    for key, a in out.items():
        if key == "confusion":
            continue
        kb = "-" if a["kappa_binary"] is None else f"{a['kappa_binary']:.3f}"
        k3 = "-" if a["kappa_three_class"] is None else f"{a['kappa_three_class']:.3f}"
        print(f"  {key:<16} n={a['n']:<4} binary {a['binary']:.3f} (kappa {kb})   3-class {a['three_class']:.3f} (kappa {k3})")
    print("  confusion (rows human, columns classifier):", json.dumps(out["confusion"]))
    return out


def rule_labels(rows: list[dict]) -> list[str]:
    out = []
    for r in rows:
        normalised = rules.normalise_text(r["response"])
        segments = rules.split_segments(normalised)
        out.append(rules.decide_label(rules.find_cues(segments), rules.measure_substance(segments), len(normalised))[0])
    return out


def folds(rows: list[dict], k: int = 5) -> list[int]:
    return [int(hashlib.sha256(r["response"].encode()).hexdigest()[8:16], 16) % k for r in rows]


def cross_validate(rows, feats, y, lam_ev, lam_lex) -> tuple[float, list[str]]:
    fold = folds(rows)
    pred = [None] * len(rows)
    for f in range(5):
        tr = [i for i in range(len(rows)) if fold[i] != f]
        te = [i for i in range(len(rows)) if fold[i] == f]
        vocab = vocabulary([feats[i] for i in tr])
        w = train(matrix([feats[i] for i in tr], vocab), y[tr], vocab, lam_ev, lam_lex)
        for i, p in zip(te, predict_rows(to_model(w, vocab), [feats[i] for i in te])):
            pred[i] = p
    a = agreement([r["label"] for r in rows], pred)
    return (a["binary"] + a["three_class"]) / 2, pred


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", action="store_true", help="only report on the shipped weights")
    parser.add_argument("--no-pyrit", action="store_true", help="leave out pyrit's labelled answers")
    parser.add_argument("--heldout-out", help="also write the heldout answers as a `harness score` responses file")
    args = parser.parse_args()

    rows = load_own() + ([] if args.no_pyrit else load_pyrit())
    train_rows = [r for r in rows if r["split"] == "train"]
    held = [r for r in rows if r["split"] == "heldout"]
    print(f"development set: {len(rows)} answers ({len(train_rows)} train, {len(held)} heldout); "
          f"by label {dict(Counter(r['label'] for r in rows))}; by language {dict(Counter(r['lang'] for r in rows))}")
    if args.heldout_out:
        with open(args.heldout_out, "w", encoding="utf-8") as f:
            for r in held:
                f.write(json.dumps({"prompt": r["prompt"] or f"(answer {r['id']})", "response": r["response"],
                                    "label": r["label"], "lang": r["lang"], "source": r["source"]}, ensure_ascii=False) + "\n")
    if not args.report:
        feats_train = featurize(train_rows)
        y = np.array([LABELS.index(r["label"]) for r in train_rows])
        scores, cv_preds = [], {}
        for lam_ev, lam_lex in GRID:
            score, cv_preds[(lam_ev, lam_lex)] = cross_validate(train_rows, feats_train, y, lam_ev, lam_lex)
            scores.append((score, lam_ev, lam_lex))  # ties: the stronger regularisation
            print(f"  cv lam_ev={lam_ev:<6} lam_lex={lam_lex:<6} mean(binary, 3-class) {score:.3f}", flush=True)
        _, lam_ev, lam_lex = max(scores)
        cv_pred = cv_preds[(lam_ev, lam_lex)]
        report(f"train split, 5-fold cross-validation (lam_ev={lam_ev}, lam_lex={lam_lex})", train_rows, cv_pred)
        vocab = vocabulary(feats_train)
        model = to_model(train(matrix(feats_train, vocab), y, vocab, lam_ev, lam_lex), vocab)
        payload = {"labels": list(model.labels),
                   "trained_on": {"answers": len(train_rows), "labels": dict(Counter(r["label"] for r in train_rows)),
                                  "sources": dict(Counter(r["source"] for r in train_rows)), "pyrit": PYRIT_VERSION if not args.no_pyrit else None},
                   "hyperparameters": {"l2_evidence": lam_ev, "l2_words": lam_lex, "min_df": MIN_DF, "steps": STEPS},
                   "weights": {n: list(w) for n, w in sorted(model.weights.items())}}
        MODEL_FILE.write_text(json.dumps(payload, ensure_ascii=False, indent=0, sort_keys=False) + "\n", encoding="utf-8")
        load_model.cache_clear()
        print(f"wrote {MODEL_FILE} ({MODEL_FILE.stat().st_size // 1024} KiB, {len(model.weights)} features)")
    model = load_model()
    feats_held = featurize(held)
    report("heldout split: rule-based classifier (before)", held, rule_labels(held))
    report("heldout split: refusal model (shipped weights)", held, predict_rows(model, feats_held))
    return 0


if __name__ == "__main__":
    sys.exit(main())
