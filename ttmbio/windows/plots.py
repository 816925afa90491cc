"""PNG plots of the windows stage: example windows per channel and SQI distributions.

PNGs rather than vega specs alone: ``dvc plots show`` renders HTML that loads vega from a CDN,
which an offline machine cannot reach.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from ttmbio.params import QualityParams
from ttmbio.windows.store import WindowStore

_THRESHOLDS = ("ecg_sqi", "ppg_tsqi", "ppg_ssqi", "n_cycles")  # SQIs a gate thresholds


def plot_examples(store: WindowStore, out: Path, n: int = 4) -> None:
    """The first ``n`` windows of a store, one row per channel (filtered, not normalised)."""
    n = min(n, len(store))
    fig, axes = plt.subplots(
        len(store.channels),
        max(n, 1),
        squeeze=False,
        figsize=(3.2 * max(n, 1), 1.6 * len(store.channels)),
    )
    t = np.arange(store.length) / store.fs
    block = store.read(0, n)
    cases = store.meta("case_id")[:n] if n else []
    for j in range(max(n, 1)):
        for i, channel in enumerate(store.channels):
            ax = axes[i][j]
            if j < n:
                ax.plot(t, block[j, i], lw=0.6)
            if j == 0:
                ax.set_ylabel(channel)
            if i == 0 and j < n:
                ax.set_title(f"case {cases[j]}", fontsize=8)
            ax.tick_params(labelsize=6)
    fig.suptitle(f"{store.group.attrs['dataset']} {store.group.attrs['split']}: example windows")
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


def plot_sqi(sqi: dict[str, np.ndarray], quality: QualityParams, title: str, out: Path) -> None:
    """Histograms of each SQI over every candidate window, with the gate's threshold."""
    keys = [k for k in ("ecg_sqi", "ppg_tsqi", "ppg_ssqi", "n_cycles", "hr_bpm") if k in sqi]
    fig, axes = plt.subplots(1, max(len(keys), 1), squeeze=False, figsize=(3.2 * len(keys), 2.6))
    for ax, key in zip(axes[0], keys, strict=False):
        values = sqi[key][np.isfinite(sqi[key])]
        ax.hist(values, bins=40)
        if key in _THRESHOLDS:
            ax.axvline(quality.sqi_min(key), color="r", ls="--", lw=1)
        ax.set_title(f"{key} (n={len(values)})", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
