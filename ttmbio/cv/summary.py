"""Cross-validation across folds: mean and spread of every test metric (no torch).

The default DAG runs ``ttmbio cv`` with cross-validation off, so this module stays light: it
reads the folds' metrics files that ``ttmbio cv-fold`` wrote.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from ttmbio.atomic import atomic_write_json
from ttmbio.errors import ConfigError, SourceError
from ttmbio.params import Params

HEADLINES = ("val_auroc", "test.windows.auroc", "test.windows.calibration_after.ece")


def flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of nested dicts as ``a.b.c`` keys (booleans and strings left out)."""
    flat: dict[str, float] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def aggregate(folds: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """Mean and sample standard deviation (ddof 1) of every metric across folds, and the
    per-fold values; a metric missing from a fold (e.g. recording AUROC with one class) is
    averaged over the folds that have it."""
    if len(folds) < 2:
        raise ConfigError(f"cross-validation needs at least 2 folds, got {len(folds)}")
    rows = {
        str(k): {n: v for n, v in flatten(m).items() if n != "fold"}
        for k, m in sorted(folds.items())
    }
    names = sorted({n for row in rows.values() for n in row})
    mean, std = {}, {}
    for name in names:
        values = np.array([row[name] for row in rows.values() if name in row])
        mean[name] = float(values.mean())
        if len(values) > 1:  # one value has no spread; left out rather than NaN
            std[name] = float(values.std(ddof=1))
    return {"k": len(folds), "mean": mean, "std": std, "folds": rows}


class CVReport(BaseModel):
    """What ``ttmbio cv`` wrote: the aggregate (``{"k": 0}`` when cross-validation is off)."""

    model_config = ConfigDict(frozen=True)

    out: Path
    report: dict[str, Any]

    def lines(self) -> list[str]:
        if not self.report["k"]:
            return ["cv: cross-validation is off (splits.folds=[]); e.g. splits.folds=[0,1,2,3,4]"]
        mean, std, k = self.report["mean"], self.report["std"], self.report["k"]
        return [f"cv: {key} {mean[key]:.3f} ± {std[key]:.3f} over {k} folds" for key in HEADLINES]


def write_cv_summary(params: Params, metrics: Path, out: Path) -> CVReport:
    """Aggregate the folds of ``splits.folds`` from ``metrics/fold-<f>.json`` into ``out``;
    a fold without its metrics file is a one-line error saying what to run."""
    if not params.splits.folds:
        atomic_write_json(out, {"k": 0})
        return CVReport(out=out, report={"k": 0})
    missing = [f for f in params.splits.folds if not (metrics / f"fold-{f}.json").is_file()]
    if missing:
        raise SourceError(
            f"{metrics}: no metrics for fold(s) {missing}; run `dvc repro cv` (it runs the "
            "cv-fold stages first)"
        )
    folds = {f: json.loads((metrics / f"fold-{f}.json").read_text()) for f in params.splits.folds}
    report = aggregate(folds)
    atomic_write_json(out, report)
    return CVReport(out=out, report=report)
