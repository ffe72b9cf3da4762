"""Plots (matplotlib, headless): the training loss with the checkpoint scores under it, and the
overlaid loss curves of a sweep's variants."""

from __future__ import annotations

from pathlib import Path

Points = list[tuple[int, float]]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_training(train: Points, smoothed: Points, evals: Points, out: Path, *,
                  scores: list[dict] | None = None, headline: dict[str, str] | None = None,
                  title: str = "SFT training loss and checkpoint scores") -> Path:
    """training_loss.png. Top: the raw per-batch train loss (faint), the moving average the
    diagnosis reads, and the eval loss. Below, on the same step axis: the scores of every rescored
    checkpoint with their 95% CIs, the base model's as dashed lines (rates in one panel,
    perplexity in another); the final adapter's full-suite score as a star."""
    plt = _pyplot()
    scores = [s for s in scores or [] if s.get("metrics")]
    headline = headline or {}
    names = [n for n in headline if any(n in s["metrics"] for s in scores)]
    rates = [n for n in names if not _is_perplexity(n)]
    ppl = [n for n in names if _is_perplexity(n)]
    panels = 1 + bool(rates) + bool(ppl)
    fig, axes = plt.subplots(panels, 1, figsize=(10, 4 + 2.6 * (panels - 1)), sharex=True,
                             gridspec_kw={"height_ratios": [1.4] + [1] * (panels - 1)}, squeeze=False)
    axes = [a[0] for a in axes]
    ax = axes[0]
    if train:
        ax.plot(*zip(*train), color="tab:blue", alpha=0.25, linewidth=1, label="train loss (per logging step)")
    if smoothed:
        ax.plot(*zip(*smoothed), color="tab:blue", linewidth=2, label="train loss, moving average (what the diagnosis reads)")
    if evals:
        ax.plot(*zip(*evals), color="tab:orange", marker="o", linewidth=2, label="eval loss")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    last_step = max([s for s, _ in train + evals] or [0])
    for panel, group, label in ((1, rates, "score (checkpoint; dashed: base)"), (1 + bool(rates), ppl, "validation perplexity")):
        if group:
            _score_panel(axes[panel], scores, group, headline, last_step, label)
    if rates:
        axes[1].set_ylim(-0.05, 1.05)  # rates: the whole 0-1 range, so a flat 0 reads as 0
    axes[-1].set_xlabel("step")
    axes[-1].xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return Path(out)


def _is_perplexity(name: str) -> bool:
    return name.endswith("perplexity")


def _score_panel(ax, scores: list[dict], names: list[str], headline: dict[str, str], last_step: int, label: str) -> None:
    colors = ["tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray"]
    for name, color in zip(names, colors * 4):
        at_steps = [s for s in scores if s.get("step") is not None and (s["metrics"].get(name) or {}).get("ckpt") is not None]
        if at_steps:
            xs = [s["step"] for s in at_steps]
            ys = [s["metrics"][name]["ckpt"] for s in at_steps]
            lo, hi = _error_bars([s["metrics"][name] for s in at_steps], "ckpt_ci")
            ax.errorbar(xs, ys, yerr=[lo, hi], color=color, marker="o", capsize=3, label=headline.get(name, name))
            base = [s["metrics"][name]["base"] for s in at_steps if s["metrics"][name].get("base") is not None]
            if base:
                ax.axhline(base[0], color=color, linestyle="--", linewidth=1, alpha=0.8)
        final = [s for s in scores if s.get("step") is None and (s["metrics"].get(name) or {}).get("ckpt") is not None]
        if final:
            m = final[-1]["metrics"][name]
            lo, hi = _error_bars([m], "ckpt_ci")
            ax.errorbar([last_step], [m["ckpt"]], yerr=[lo, hi], color=color, marker="*", markersize=12, capsize=3,
                        linestyle="none", label=f"{headline.get(name, name)}, final (full suite)" if not at_steps else None)
    ax.set_ylabel(label, fontsize=9)
    ax.legend(fontsize=7, ncol=3)
    ax.grid(True, alpha=0.3)


def _error_bars(entries: list[dict], key: str) -> tuple[list[float], list[float]]:
    lo, hi = [], []
    for m in entries:
        ci = m.get(key)
        lo.append(max(0.0, m["ckpt"] - ci[0]) if ci else 0.0)
        hi.append(max(0.0, ci[1] - m["ckpt"]) if ci else 0.0)
    return lo, hi


def plot_sweep(curves: dict[str, dict[str, Points]], out: Path, title: str = "Sweep: loss curves of every variant") -> Path:
    """sweep_loss.png: per variant (one colour each) the smoothed train loss (solid) and the eval
    loss (dashed, markers), on one step axis."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 5))
    cmap = plt.get_cmap("tab10")
    for i, (name, c) in enumerate(curves.items()):
        color = cmap(i % 10)
        if c.get("smoothed"):
            ax.plot(*zip(*c["smoothed"]), color=color, linewidth=2, label=f"{name}: train (moving average)")
        if c.get("evals"):
            ax.plot(*zip(*c["evals"]), color=color, linestyle="--", marker="o", label=f"{name}: eval")
    ax.set_xlabel("step")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return Path(out)
