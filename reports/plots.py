"""Plots (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path


def plot_loss(train: list[tuple[int, float]], evals: list[tuple[int, float]], out: Path, title: str = "SFT Training Loss Curve") -> Path:
    """The lab's training_loss.png (docs/lab1.md step 3): train and eval loss by step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5))
    if train:
        ax.plot(*zip(*train), label="Train Loss", alpha=0.8)
    if evals:
        ax.plot(*zip(*evals), label="Eval Loss", marker="o")
    ax.set_xlabel("Step")
    ax.set_ylabel("Loss")
    ax.set_title(title)
    ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
