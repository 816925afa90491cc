"""k-fold cross-validation (spec 000): fine-tune, calibrate and evaluate once per fold.

Fold ``f`` trains on the train+val windows of the other folds, early-stops and fits its
calibrator on fold ``f``'s windows, and is scored on the fixed test split, exactly as the
finetune -> calibrate -> evaluate stages do for the main run. :func:`aggregate` then reports
mean and standard deviation of every test metric across folds, with the per-fold values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ttmbio.atomic import atomic_dir
from ttmbio.calibration.calibrator import fit_on_val
from ttmbio.calibration.for_run import calibrator_record, write_calibrator
from ttmbio.errors import ConfigError
from ttmbio.evaluation.metrics import evaluate_scored
from ttmbio.finetune.build import build_finetuner
from ttmbio.finetune.loop import run_finetuning
from ttmbio.finetune.scores import read_run_scores, read_test_scores
from ttmbio.params import Params, binary_tasks
from ttmbio.splits.schema import SplitFile
from ttmbio.training.engine import MetricLogger

CALIBRATOR_FILE = "calibrator.json"


def check_fold(params: Params, fold: int) -> None:
    """Refuse a fold the params do not define, or a task cross-validation cannot score."""
    if fold not in params.splits.folds:
        raise ConfigError(
            f"fold {fold} is not in splits.folds={params.splits.folds}; set splits.folds "
            "(e.g. [0,1,2,3,4]) and run `dvc repro splits`"
        )
    if params.finetune.spec.kind != "binary":
        raise ConfigError(
            f"finetune.task={params.finetune.task!r} is a regression task; cross-validation "
            f"reports the evaluate stage's classification metrics: use one of {binary_tasks()}"
        )


def run_fold(
    params: Params,
    windows: Path,
    pretrained: Path | None,
    split_doc: SplitFile,
    fold: int,
    work: Path,
    out: Path,
    logger: MetricLogger | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune, calibrate and test one fold; write ``out`` (model + calibrator) whole and
    return the fold's metrics."""
    check_fold(params, fold)
    tuner = build_finetuner(params, windows, pretrained, fold, split_doc)
    with atomic_dir(out) as tmp:
        summary = run_finetuning(tuner, work, tmp, logger, show_progress)
        val = read_run_scores(tmp, "val")  # the fold's windows, scored by the kept weights
        calibrator, calibration, _ = fit_on_val(
            params.calibrate, val["score"], val["label"].astype(int)
        )
        write_calibrator(tmp / CALIBRATOR_FILE, calibrator_record(calibrator, out.name, tmp))
        test = read_test_scores(tmp)
    report, _ = evaluate_scored(
        test, calibrator, params.evaluate, params.calibrate.n_bins, params.finetune.spec.dataset
    )
    return {
        "fold": fold,
        "train_windows": summary.train_windows,
        "val_windows": summary.val_windows,
        "best_epoch": summary.best_epoch,
        "val_auroc": summary.val_auroc,
        "calibration": {
            "applied": calibration["applied"],
            "val_ece_before": calibration["val_before"]["ece"],
            "val_ece_after": calibration["val_after"]["ece"],
        },
        "test": report,
    }


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
