"""PNGs for the forecast stages: forecasts against measured glucose, and the Clarke grid."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ttmbio.forecast.forecasts import Forecasts
from ttmbio.forecast.metrics import MGDL_PER_MMOL


def plot_examples(
    forecasts: dict[str, Forecasts],
    persistence: np.ndarray,
    resolution_min: int,
    path: Path,
    n: int = 4,
) -> None:
    """``n`` forecast windows spread over the evaluated ones: measured glucose and each method."""
    first = next(iter(forecasts.values()))
    # windows whose whole horizon was measured, spread over patients and time
    measured = np.flatnonzero(np.isfinite(first.observed).mean(axis=1) >= 0.9)
    pool = measured if len(measured) >= n else np.arange(len(first.origin))
    picks = pool[np.linspace(0, len(pool) - 1, n).astype(int)] if len(pool) else []
    fig, axes = plt.subplots(len(picks), 1, figsize=(8, 2.4 * max(len(picks), 1)), squeeze=False)
    minutes = resolution_min * np.arange(1, first.predicted.shape[1] + 1)
    for ax, i in zip(axes[:, 0], picks, strict=False):
        ax.plot(minutes, first.observed[i] * MGDL_PER_MMOL, "k.", ms=3, label="measured")
        for name, fc in forecasts.items():
            ax.plot(minutes, fc.predicted[i] * MGDL_PER_MMOL, label=name)
        ax.plot(minutes, persistence[i] * MGDL_PER_MMOL, "--", color="grey", label="persistence")
        ax.set_title(f"{first.patient[i]} from {str(first.origin[i])[:16]}", fontsize=9)
        ax.set_ylabel("mg/dL")
    axes[-1, 0].set_xlabel("minutes ahead")
    axes[0, 0].legend(fontsize=7, ncol=4)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_clarke(
    reference_mgdl: np.ndarray, predicted_mgdl: np.ndarray, title: str, path: Path
) -> None:
    """Scatter on the Clarke error grid with the published zone boundaries drawn."""
    ok = np.isfinite(reference_mgdl) & np.isfinite(predicted_mgdl)
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.scatter(reference_mgdl[ok], predicted_mgdl[ok], s=2, alpha=0.3)
    grey = {"color": "k", "lw": 0.8}
    ax.plot([0, 400], [0, 400], ":", **grey)
    ax.plot([0, 175 / 3], [70, 70], **grey)
    ax.plot([175 / 3, 400 / 1.2], [70, 400], **grey)
    ax.plot([70, 70], [84, 400], **grey)
    ax.plot([0, 70], [180, 180], **grey)
    ax.plot([70, 290], [180, 400], **grey)
    ax.plot([70, 70], [0, 56], **grey)
    ax.plot([70, 400], [56, 320], **grey)
    ax.plot([180, 180], [0, 70], **grey)
    ax.plot([180, 400], [70, 70], **grey)
    ax.plot([240, 240], [70, 180], **grey)
    ax.plot([240, 400], [180, 180], **grey)
    ax.plot([130, 180], [0, 70], **grey)
    for label, (x, y) in {
        "A": (30, 15),
        "B": (370, 260),
        "B ": (280, 370),
        "C": (160, 370),
        "C ": (160, 15),
        "D": (30, 140),
        "D ": (370, 120),
        "E": (30, 370),
        "E ": (370, 15),
    }.items():
        ax.text(x, y, label.strip(), fontsize=12)
    ax.set_xlim(0, 400)
    ax.set_ylim(0, 400)
    ax.set_xlabel("measured glucose (mg/dL)")
    ax.set_ylabel("forecast glucose (mg/dL)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
