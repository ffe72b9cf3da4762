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


def delta_cell(entry: dict | None, higher_is_better: bool) -> tuple[str, str]:
    """(text, verdict) where verdict is 'better', 'worse' or '' (not significant / no data)."""
    if not entry or entry["value"] is None:
        return ("no data" if entry else "", "")
    lo, hi = entry["ci"]
    text = f"{entry['value']:+.3f} [{lo:+.3f}, {hi:+.3f}]"
    if not entry["significant"]:
        return text, ""
    up = entry["value"] > 0
    return text, "better" if up == higher_is_better else "worse"
