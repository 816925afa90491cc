"""PNG plots: learning curves, reliability diagrams, ROC/PR curves (with their CSV points)
and confusion matrices (``dvc plots show`` needs a CDN; PNGs do not)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_curves(
    history: Sequence[dict[str, float]], panels: dict[str, list[str]], title: str, out: Path
) -> None:
    """One panel per entry of ``panels`` (title -> history keys), epochs on the x axis."""
    out.parent.mkdir(parents=True, exist_ok=True)
    epochs = [row["epoch"] for row in history]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    for ax, (name, keys) in zip(axes[0], panels.items(), strict=True):
        for key in keys:
            ax.plot(epochs, [row[key] for row in history], marker="o", ms=3, label=key)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def plot_reliability(curves: dict[str, dict[str, list[float]]], title: str, out: Path) -> None:
    """Reliability diagram: observed frequency against mean predicted probability per bin."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect")
    for name, curve in curves.items():
        ax.plot(curve["mean_predicted"], curve["observed_frequency"], marker="o", ms=4, label=name)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed frequency")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def plot_roc_pr(scores: list[float], labels: list[int], out_dir: Path, title: str) -> None:
    """ROC and precision-recall curves as PNGs (their data for ``dvc plots`` comes from
    dvclive's ``log_sklearn_plot``, which runs the same scikit-learn functions)."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    out_dir.mkdir(parents=True, exist_ok=True)
    fpr, tpr, _ = roc_curve(labels, scores)
    precision, recall, _ = precision_recall_curve(labels, scores)
    for name, (x, y, xl, yl) in {
        "roc": (fpr, tpr, "false positive rate", "true positive rate"),
        "pr": (recall, precision, "recall", "precision"),
    }.items():
        fig, ax = plt.subplots(figsize=(4.2, 4.2))
        ax.plot(x, y, lw=1.5)
        if name == "roc":
            ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.set_title(f"{title}: {name.upper()}", fontsize=10)
        fig.tight_layout()
        fig.savefig(out_dir / f"{name}.png", dpi=90)
        plt.close(fig)


def plot_confusion(matrix: list[list[int]], out: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    ax.imshow(matrix, cmap="Blues")
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, str(value), ha="center", va="center")
    ax.set_xticks([0, 1])
    ax.set_yticks([0, 1])
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
