"""How a metric value reads, the same in the terminal and in Markdown."""

from __future__ import annotations


def number(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if abs(x) < 100 else f"{x:.1f}"


def metric_cell(entry: dict | None) -> str:
    """'0.450 [0.300, 0.600] n=20', 'no data (n=0)', with the unscored count when any."""
    if not entry:
        return ""
    if entry["value"] is None:
        text = "no data (n=0)"
    else:
        lo, hi = entry["ci"]
        text = f"{number(entry['value'])} [{number(lo)}, {number(hi)}] n={entry['n']}"
    if entry.get("unscored"):
        text += f", {entry['unscored']} unscored"
    return text


SIGNIFICANCE_RULE = ("significant (5% level): exact sign test on the flipped samples for pass/fail metrics, "
                     "the paired bootstrap 95% CI excluding 0 for graded ones (from 10 pairs up)")


def delta_cell(entry: dict | None, higher_is_better: bool, sides: tuple[dict | None, ...] = ()) -> tuple[str, str]:
    """(text, verdict) where verdict is 'better', 'worse' or '' (not significant / no data).

    '+0.250 [+0.000, +0.500] p=0.25': the paired delta, its bootstrap CI, and the exact sign test's
    p for a pass/fail metric (or 'too few pairs'). When `sides` (the two values' entries) were
    counted over other samples than the pairs, the values over the pairs follow, so that the
    values and the delta shown side by side come from the same samples."""
    if not entry or entry["value"] is None:
        return ("no data" if entry else "", "")
    lo, hi = entry["ci"]
    text = f"{entry['value']:+.3f} [{lo:+.3f}, {hi:+.3f}]"
    if entry.get("p_value") is not None:
        text += f" p={entry['p_value']:.2g}"
    if entry.get("note"):
        text += f" {entry['note']}"
    text += paired_values_note(entry, sides)
    if not entry["significant"]:
        return text, ""
    up = entry["value"] > 0
    return text, "better" if up == higher_is_better else "worse"


def paired_values_note(entry: dict, sides: tuple[dict | None, ...]) -> str:
    """' (on the 23 paired samples: 0.000 -> 0.000)' when a side's own n is not the paired n."""
    values = entry.get("paired_values")
    if not values or all(not s or s.get("n") == entry["n"] for s in sides):
        return ""
    return f" (on the {entry['n']} paired samples: {number(values[0])} -> {number(values[1])})"
