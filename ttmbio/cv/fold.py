"""One fold of k-fold cross-validation (spec 000): fine-tune, calibrate and evaluate it.

Fold ``f`` trains on the train+val windows of the other folds, early-stops and fits its
calibrator on fold ``f``'s windows, and is scored on the fixed test split, exactly as the
finetune -> calibrate -> evaluate stages do for the main run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ttmbio.atomic import atomic_dir, atomic_write_json
from ttmbio.calibration.calibrator import fit_on_val
from ttmbio.calibration.for_run import calibrator_record, write_calibrator
from ttmbio.errors import ConfigError
from ttmbio.evaluation.metrics import evaluate_scored
from ttmbio.finetune.build import build_finetuner
from ttmbio.finetune.loop import run_finetuning
from ttmbio.finetune.scores import read_run_scores, read_test_scores
from ttmbio.params import Params, binary_tasks
from ttmbio.splits.schema import SplitFile, read_split_file
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


class FoldReport(BaseModel):
    """What ``ttmbio cv-fold`` did: the fold's model folder, metrics file and metrics."""

    model_config = ConfigDict(frozen=True)

    fold: int
    out: Path
    metrics_file: Path
    report: dict[str, Any]

    def line(self) -> str:
        test = self.report["test"]["windows"]
        return (
            f"cv fold-{self.fold}: val AUROC {self.report['val_auroc']:.3f}, test AUROC "
            f"{test['auroc']:.3f}, ECE {test['calibration_after']['ece']:.3f} -> {self.out}"
        )


def write_fold(
    params: Params,
    windows: Path,
    pretrained: Path,
    split_file: Path,
    fold: int,
    work: Path,
    out: Path,
    metrics: Path,
) -> FoldReport:
    """Run fold ``fold`` into ``out/fold-<fold>`` (the pretrained encoder only when
    ``finetune.init`` asks for it) and write its metrics to ``metrics/fold-<fold>.json``."""
    check_fold(params, fold)
    name = f"fold-{fold}"
    report = run_fold(
        params,
        windows,
        pretrained if params.finetune.init == "pretrained" else None,
        read_split_file(split_file),
        fold,
        work / name,
        out / name,
    )
    atomic_write_json(metrics / f"{name}.json", report)
    return FoldReport(
        fold=fold, out=out / name, metrics_file=metrics / f"{name}.json", report=report
    )
