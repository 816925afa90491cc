"""``ttmbio cv-fold`` and ``ttmbio cv``: k-fold cross-validation of finetune -> calibrate ->
evaluate, one DVC stage per fold (``matrix`` over ``splits.folds``), then the aggregate."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from stages.common import ParamsOption, one_line_errors
from ttmbio.params import load_params


@one_line_errors
def cv_fold(
    fold: int = typer.Option(..., help="fold id, one of splits.folds."),
    splits: Path = typer.Option(Path("data/splits.json"), help="split file with the folds."),
    windows: Path = typer.Option(Path("data/windows"), help="window stores to read."),
    pretrained: Path = typer.Option(Path("models/pretrain"), help="pretrained model folder."),
    out: Path = typer.Option(Path("models/cv"), help="parent of the fold folders."),
    work: Path = typer.Option(Path("checkpoints/cv"), help="checkpoints while training."),
    metrics: Path = typer.Option(Path("metrics/cv"), help="folder of per-fold metrics."),
    params: Path = ParamsOption,
) -> None:
    """Fine-tune on the other folds, calibrate on this one, evaluate on test."""
    cfg = load_params(params)
    from ttmbio.atomic import atomic_write_json
    from ttmbio.cv import check_fold, run_fold
    from ttmbio.splits.schema import read_split_file

    check_fold(cfg, fold)
    name = f"fold-{fold}"
    report = run_fold(
        cfg,
        windows,
        pretrained if cfg.finetune.init == "pretrained" else None,
        read_split_file(splits),
        fold,
        work / name,
        out / name,
    )
    atomic_write_json(metrics / f"{name}.json", report)
    test = report["test"]["windows"]
    typer.echo(
        f"cv {name}: val AUROC {report['val_auroc']:.3f}, test AUROC {test['auroc']:.3f}, "
        f"ECE {test['calibration_after']['ece']:.3f} -> {out / name}"
    )


@one_line_errors
def cv(
    metrics: Path = typer.Option(Path("metrics/cv"), help="folder of per-fold metrics."),
    out: Path = typer.Option(Path("metrics/cv.json"), help="aggregate metrics file."),
    params: Path = ParamsOption,
) -> None:
    """Mean and std of each test metric across the folds of splits.folds, plus per-fold rows."""
    cfg = load_params(params)
    from ttmbio.atomic import atomic_write_json
    from ttmbio.errors import SourceError

    if not cfg.splits.folds:
        atomic_write_json(out, {"k": 0})
        typer.echo("cv: cross-validation is off (splits.folds=[]); e.g. splits.folds=[0,1,2,3,4]")
        return
    from ttmbio.cv import aggregate  # imports torch: only when there are folds to aggregate

    missing = [f for f in cfg.splits.folds if not (metrics / f"fold-{f}.json").is_file()]
    if missing:
        raise SourceError(
            f"{metrics}: no metrics for fold(s) {missing}; run `dvc repro cv` (it runs the "
            "cv-fold stages first)"
        )
    folds = {f: json.loads((metrics / f"fold-{f}.json").read_text()) for f in cfg.splits.folds}
    report = aggregate(folds)
    atomic_write_json(out, report)
    mean, std = report["mean"], report["std"]
    for key in ("val_auroc", "test.windows.auroc", "test.windows.calibration_after.ece"):
        typer.echo(f"cv: {key} {mean[key]:.3f} ± {std[key]:.3f} over {report['k']} folds")
