"""``ttmbio calibrate``: fit temperature, Platt or isotonic calibration on val predictions."""

from __future__ import annotations

from pathlib import Path

import typer

from ttmbio.params import load_params
from ttmbio_stages.common import ParamsOption, one_line_errors


@one_line_errors
def calibrate(
    models: Path = typer.Option(Path("models/finetune"), help="parent of fine-tuning runs."),
    out: Path = typer.Option(Path("models/calibrate"), help="calibrator folder to write."),
    metrics: Path = typer.Option(Path("metrics/calibrate.json"), help="ECE/NLL/Brier file."),
    plots: Path = typer.Option(Path("plots/calibrate"), help="reliability diagram folder."),
    params: Path = ParamsOption,
) -> None:
    """Fit the calibrator on the chosen fine-tuning run's val predictions (never test)."""
    cfg = load_params(params).calibrate
    from ttmbio.calibration.for_run import calibrate_run

    report = calibrate_run(cfg, models, out, metrics, plots)
    b, a = report.val_before, report.val_after
    typer.echo(
        f"calibrate: {report.model} {report.applied}: val ECE {b.ece:.4f} -> {a.ece:.4f}, "
        f"NLL {b.nll:.4f} -> {a.nll:.4f} -> {out}"
    )
