"""The windows stage as a library call: stores, statistics, the gate audit, metrics and plots.

:func:`run_windows` does everything ``ttmbio windows`` does and returns a
:class:`WindowsReport`; the CLI only prints it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ttmbio.atomic import atomic_write_json
from ttmbio.params import Params
from ttmbio.splits.schema import read_split_file
from ttmbio.windows.build import Progress, build_windows
from ttmbio.windows.gate_audit import gate_audit
from ttmbio.windows.plots import plot_examples, plot_sqi
from ttmbio.windows.store import WindowStore


class WindowsReport(BaseModel):
    """What ``ttmbio windows`` did: per dataset and split, windows kept of candidates (the
    metrics file), every recording skipped (one line each, naming its file) and the audit
    of the quality gates on synthetic pathology."""

    model_config = ConfigDict(frozen=True)

    out: Path
    counts: dict[str, dict[str, Any]]
    skipped: list[str]
    gate_audit: dict[str, Any]

    def lines(self) -> list[str]:
        """The summary the CLI prints: one line per dataset, one for the audit."""
        out = [
            f"windows: {dataset}: "
            + ", ".join(f"{s} {c['windows']}/{c['candidates']} kept" for s, c in splits.items())
            for dataset, splits in self.counts.items()
        ]
        audit = self.gate_audit
        worst = min((v for v in audit["rejected"].values() if v is not None), default=float("nan"))
        out.append(
            f"windows: gate audit ({audit['ecg_method']} ECG / {audit['ppg_method']} PPG): kept "
            f"{audit['kept']['sinus']:.2f} of clean sinus, {audit['kept']['arrhythmic']:.2f} of "
            f"clean arrhythmic windows; rejected >= {worst:.2f} of each artefact"
        )
        return out


def run_windows(
    params: Params, split_file: Path, out: Path, metrics: Path, plots: Path, progress: Progress
) -> WindowsReport:
    """Window every split of every dataset into ``out`` (whole or not at all), then write
    the metrics (counts and gate audit) and the example and SQI plots."""
    doc = read_split_file(split_file)
    counts, report = build_windows(params, doc, out, progress)
    audit = gate_audit(params.windows)
    atomic_write_json(metrics, {**counts, "gate_audit": audit})
    plots.mkdir(parents=True, exist_ok=True)
    for dataset, sqi in report["sqi"].items():
        plot_examples(WindowStore(out / dataset / "train.zarr"), plots / f"{dataset}_examples.png")
        plot_sqi(
            sqi,
            params.windows.quality,
            f"{dataset}: SQIs of all candidate windows",
            plots / f"{dataset}_sqi.png",
        )
    skipped = [
        f"{dataset}: skipped {s['reason']}"
        for dataset, rows in report["skipped"].items()
        for s in rows
    ]
    return WindowsReport(out=out, counts=counts, skipped=skipped, gate_audit=audit)
