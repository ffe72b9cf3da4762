"""A classifier's agreement with human labels: answers scored by `harness score` may carry a
`label` (what a person says the answer is); the summary then reports, per labelling scorer,
3-class and binary agreement and Cohen's kappa with bootstrap 95% CIs, and the confusion matrix.

Labelling scorers are the refusal classifiers (scorer `refusal`): labels full_refusal,
partial_refusal, compliance; binary = refused (full or partial) or complied. XSTest's spellings
(1_full_compliance, 2_full_refusal, 3_partial_refusal, full_compliance) are read as the same
labels. Samples the scorer left unscored are counted, not compared.

summary.json: `label_agreement.<task>/<scorer id>` = {n, unscored, labels, binary, confusion,
by: {<field>: {<value>: {n, labels, binary}}}} (labels/binary: `agreement_stats`; `by` splits by
the answers' `lang` and `source` fields when they have them).
"""

from __future__ import annotations

from harness.errors import HarnessError
from harness.records import SampleRecord
from judges.agreement import agreement_stats
from suites.scorers.refusal import COMPLIANCE, LABELS

HUMAN_LABEL = "label"  # the field of an answer row / sample that holds the human label
LABELLING_SCORERS = {"refusal"}
BREAKDOWN_FIELDS = ("lang", "source")
ALIASES = {"1_full_compliance": COMPLIANCE, "full_compliance": COMPLIANCE,
           "2_full_refusal": "full_refusal", "3_partial_refusal": "partial_refusal"}


def normalise_human_label(value, where: str) -> str:
    """The label as one of LABELS; a HarnessError naming the row for anything else."""
    label = ALIASES.get(str(value).strip().lower(), str(value).strip().lower())
    if label not in LABELS:
        raise HarnessError(f"{where}: label {value!r} is not one of {', '.join(LABELS)} "
                           "(XSTest's 1_full_compliance, 2_full_refusal, 3_partial_refusal are read too)")
    return label


def check_human_labels(rows: list[dict], task, path: str) -> None:
    """Normalise the rows' human labels in place; a label on a task that no scorer labels is an error."""
    labelled = [row for row in rows if HUMAN_LABEL in row]
    if labelled and not any(s.name in LABELLING_SCORERS for s in task.scorers):
        raise HarnessError(f"{path}:{labelled[0]['__line__']}: rows carry a '{HUMAN_LABEL}' but task '{task.name}' "
                           f"has no scorer that labels answers ({', '.join(sorted(LABELLING_SCORERS))}); "
                           "drop the field or score another task")
    for row in labelled:
        row[HUMAN_LABEL] = normalise_human_label(row[HUMAN_LABEL], f"{path}:{row['__line__']}")


def binary(label: str) -> str:
    return "complied" if label == COMPLIANCE else "refused"


def label_agreement(suite, records: list[SampleRecord]) -> dict:
    """{"<task>/<scorer id>": stats} for every labelling scorer of a task whose records carry human labels."""
    out = {}
    for task in suite.tasks.values():
        labelled = [r for r in records if r.task == task.name and HUMAN_LABEL in (r.sample or {})]
        for spec in task.scorers:
            if spec.name in LABELLING_SCORERS and labelled:
                out[f"{task.name}/{spec.id}"] = scorer_agreement(labelled, spec.id)
    return out


def scorer_agreement(records: list[SampleRecord], scorer_id: str) -> dict:
    pairs, rows, unscored = [], [], 0
    for r in records:
        score = r.scores.get(scorer_id)
        if score is None or score.value is None or score.label not in LABELS:
            unscored += 1
            continue
        pairs.append((r.sample[HUMAN_LABEL], score.label))
        rows.append(r.sample)
    out = {"n": len(pairs), "unscored": unscored, **_stats(pairs),
           "confusion": {h: {c: sum(1 for p in pairs if p == (h, c)) for c in LABELS} for h in LABELS}}
    by = {}
    for field in BREAKDOWN_FIELDS:
        values = sorted({str(s[field]) for s in rows if field in s})
        if values:
            by[field] = {v: {"n": len(sub), **_stats(sub)} for v in values
                         for sub in [[p for p, s in zip(pairs, rows) if str(s.get(field)) == v]]}
    out["by"] = by
    return out


def _stats(pairs: list[tuple[str, str]]) -> dict:
    human, scorer = [h for h, _ in pairs], [c for _, c in pairs]
    return {"labels": agreement_stats(human, scorer),
            "binary": agreement_stats([binary(h) for h in human], [binary(c) for c in scorer])}
