"""``ttmbio cv-fold`` and ``ttmbio cv``: k-fold cross-validation of finetune -> calibrate ->
evaluate, one DVC stage per fold (``matrix`` over ``splits.folds``), then the aggregate."""

from __future__ import annotations

from pathlib import Path

import typer

from ttmbio.params import load_params
from ttmbio_stages.common import ParamsOption, one_line_errors


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
    from ttmbio.cv.fold import write_fold

    typer.echo(write_fold(cfg, windows, pretrained, splits, fold, work, out, metrics).line())


@one_line_errors
def cv(
    metrics: Path = typer.Option(Path("metrics/cv"), help="folder of per-fold metrics."),
    out: Path = typer.Option(Path("metrics/cv.json"), help="aggregate metrics file."),
    params: Path = ParamsOption,
) -> None:
    """Mean and std of each test metric across the folds of splits.folds, plus per-fold rows."""
    cfg = load_params(params)
    from ttmbio.cv.summary import write_cv_summary  # no torch: the default DAG runs it off

    for line in write_cv_summary(cfg, metrics, out).lines():
        typer.echo(line)
