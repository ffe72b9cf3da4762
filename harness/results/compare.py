"""Paired comparison of two scored runs (run directories or baseline files), one model role.

Two runs are compared only when comparable: the same suite (name and version, i.e. the same
suite file and the same data for every task) and the same sample ids. Deltas are B - A over the
samples both scored, with the paired bootstrap of harness.metrics; a pass/fail sample whose
verdict differs between A and B is a flip.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.errors import HarnessError
from harness.metrics import summarize_delta
from harness.results.snapshot import Snapshot


@dataclass
class MetricComparison:
    name: str
    higher_is_better: bool
    a: dict | None  # {value, n, ci, unscored} of the role in A (summary.json), None if absent
    b: dict | None
    delta: dict  # B - A: {value, n, ci, significant}


@dataclass
class Flip:
    metric: str
    task: str
    id: str
    prompt: str | None
    before: float  # the sample's value in A (1.0 / 0.0)
    after: float  # ... in B
    higher_is_better: bool  # of the metric: says whether 1.0 is a pass

    @property
    def worse(self) -> bool:
        """pass -> fail: the value moved in the metric's bad direction."""
        return (self.after < self.before) == self.higher_is_better

    def pass_fail(self, value: float) -> str:
        return "pass" if (value == 1.0) == self.higher_is_better else "fail"


@dataclass
class Comparison:
    a: Snapshot
    b: Snapshot
    role: str
    metrics: list[MetricComparison]
    flips: list[Flip]  # pass -> fail first, then fail -> pass
    scorer_changes: list[str]  # scorers whose version or settings differ between A and B (why verdicts moved)
    allowed_differences: list[str] = field(default_factory=list)  # --allow-different: how A and B were made differently
    export_note: str | None = None  # B (or A and B) exported from A's adapter by `harness export`: what the deltas mean

    def metric(self, name: str) -> MetricComparison | None:
        return next((m for m in self.metrics if m.name == name), None)


def compare(a: Snapshot, b: Snapshot, role: str = "ckpt", allow: frozenset[str] = frozenset()) -> Comparison:
    require_comparable(a, b, role)
    allowed = condition_differences(a, b, allow)
    metrics, flips = [], []
    prompts = b.prompts(role)
    for name in b.metrics:
        higher = b.definitions[name].higher_is_better
        units_a, units_b = a.units(name, role, b.definitions[name]), b.units(name, role)
        metrics.append(MetricComparison(
            name, higher, a.metrics.get(name, {}).get(role), b.metrics[name].get(role), summarize_delta(units_a, units_b)
        ))
        if b.definitions[name].aggregate == "mean":
            flips += _flips(name, higher, units_a, units_b, prompts)
    flips.sort(key=lambda f: not f.worse)  # stable: metric order kept within each group
    return Comparison(a, b, role, metrics, flips, scorer_changes(a, b), allowed, export_note(a, b, role))


def export_note(a: Snapshot, b: Snapshot, role: str = "ckpt") -> str | None:
    """What B - A measures when B is a GGUF export (`harness export`) of the weights A ran: the
    adapter's hash in the GGUF's metadata matches A's adapter, or A is an export of the same adapter."""
    exp_b = b.checkpoint.get("exported_from") or {}
    if role != "ckpt" or not exp_b.get("adapter_hash"):
        return None
    exp_a = a.checkpoint.get("exported_from") or {}
    if a.checkpoint.get("adapter_hash") == exp_b["adapter_hash"]:
        return (f"B is the GGUF {exp_b.get('type')} export of A's adapter: B - A is what the export "
                f"(merge + {exp_b.get('type')}) cost")
    if exp_a.get("adapter_hash") == exp_b["adapter_hash"]:
        return (f"A and B are GGUF exports of the same adapter ({exp_a.get('type')} and {exp_b.get('type')}): "
                f"B - A is what {exp_b.get('type')} cost against {exp_a.get('type')}")
    return None


def _flips(metric: str, higher_is_better: bool, units_a, units_b, prompts: dict) -> list[Flip]:
    value_a = dict(zip(units_a.keys, units_a.num))
    out = []
    for key, after in zip(units_b.keys, units_b.num):
        before = value_a.get(key)
        if before is None or before == after or {before, after} - {0.0, 1.0}:
            continue  # not in A, unchanged, or not a pass/fail value
        task, sample_id = key.split("/", 1)
        out.append(Flip(metric, task, sample_id, prompts.get((task, sample_id)), float(before), float(after), higher_is_better))
    return out


def scorer_changes(a: Snapshot, b: Snapshot) -> list[str]:
    """'safety/refusal: refusal version 1 -> 2' for every scorer both ran with other versions or settings."""
    out = []
    for key in sorted(set(a.scorers) & set(b.scorers)):
        sa, sb = a.scorers[key], b.scorers[key]
        if sa == sb:
            continue
        va, vb = sa.get("version", "1"), sb.get("version", "1")
        what = f"version {va} -> {vb}" if va != vb else f"settings {_params(sa)} -> {_params(sb)}"
        out.append(f"{key}: {sb.get('scorer', key)} {what}")
    return out


def _params(spec: dict) -> str:
    return str({k: v for k, v in spec.items() if k not in {"scorer", "version"}})


CONDITION_KEYS = ("generation", "chat_template", "engine", "judge_model")  # what --allow-different takes


def condition_differences(a: Snapshot, b: Snapshot, allow: frozenset[str] = frozenset()) -> list[str]:
    """How A and B were made differently (generation settings, chat template, judge model), where
    both recorded it. Each difference not in `allow` is refused; the allowed ones are returned."""
    allowed = []
    for key in sorted(set(a.conditions) & set(b.conditions)):
        va, vb = a.conditions[key], b.conditions[key]
        if va == vb:
            continue
        kind = key.split("/", 1)[0]
        what = f"{key}: {_difference(va, vb)}"
        if kind not in allow and key not in allow:
            raise HarnessError(
                f"{a.source} (A) and {b.source} (B) were made differently ({what}); their scores do not compare "
                f"as equals. Run both the same way, or pass --allow-different {kind} to compare anyway")
        allowed.append(what)
    return allowed


def _difference(va, vb) -> str:
    if isinstance(va, dict) and isinstance(vb, dict):
        keys = [k for k in sorted(set(va) | set(vb)) if va.get(k) != vb.get(k)]
        return ", ".join(f"{k} {va.get(k)!r} vs {vb.get(k)!r}" for k in keys)
    return f"{va!r} vs {vb!r}"


def require_comparable(a: Snapshot, b: Snapshot, role: str) -> None:
    """Raise a HarnessError saying what differs, unless A and B can be paired sample by sample."""
    a.require_role(role)
    b.require_role(role)
    prefix = f"{a.source} (A) and {b.source} (B) are not comparable"
    if a.suite_name != b.suite_name:
        raise HarnessError(f"{prefix}: different suites ('{a.suite_name}' vs '{b.suite_name}')")
    if a.suite_version != b.suite_version:
        raise HarnessError(f"{prefix}: {'; '.join(suite_differences(a, b))}")
    ids_a, ids_b = a.sample_ids(role), b.sample_ids(role)
    for task in sorted(set(ids_a) | set(ids_b)):
        only_a = sorted(ids_a.get(task, set()) - ids_b.get(task, set()))
        only_b = sorted(ids_b.get(task, set()) - ids_a.get(task, set()))
        if only_a or only_b:
            raise HarnessError(
                f"{prefix}: task {task} has different sample ids ({len(only_a)} only in A{_examples(only_a)}, "
                f"{len(only_b)} only in B{_examples(only_b)}); score the same samples in both runs"
            )


def suite_differences(a: Snapshot, b: Snapshot) -> list[str]:
    """What makes two versions of a suite differ: tasks run, a task's data, or the suite file itself."""
    out = []
    only_a = sorted(set(a.data_hashes) - set(b.data_hashes))
    only_b = sorted(set(b.data_hashes) - set(a.data_hashes))
    if only_a or only_b:
        out.append(f"different tasks (only in A: {', '.join(only_a) or '-'}; only in B: {', '.join(only_b) or '-'})")
    for task in a.data_hashes:
        if task in b.data_hashes and a.data_hashes[task] != b.data_hashes[task]:
            out.append(
                f"a different data hash for task {task} ({a.data_hashes[task]} vs {b.data_hashes[task]}: "
                "its samples file differs, e.g. --data)"
            )
    if not out:
        out.append(f"the suite file changed (suite version {a.suite_version} vs {b.suite_version}, same data)")
    return out


def _examples(ids: list[str], limit: int = 3) -> str:
    if not ids:
        return ""
    more = ", …" if len(ids) > limit else ""
    return ": " + ", ".join(ids[:limit]) + more
