"""``ttmbio calibrate``: fit temperature, Platt or isotonic calibration on val predictions."""

from __future__ import annotations

from pathlib import Path

import typer

from stages.common import ParamsOption, one_line_errors
from ttmbio.params import load_params


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
    from ttmbio.atomic import atomic_dir, atomic_write_json
    from ttmbio.calibration.for_run import calibrate as fit
    from ttmbio.calibration.for_run import calibrator_record, write_calibrator
    from ttmbio.plots import plot_reliability

    calibrator, report, curves = fit(cfg, models / cfg.model)
    with atomic_dir(out) as tmp:
        record = calibrator_record(calibrator, cfg.model, models / cfg.model)
        write_calibrator(tmp / "calibrator.json", record)
    atomic_write_json(metrics, report)
    plots.mkdir(parents=True, exist_ok=True)
    atomic_write_json(plots / "reliability.json", curves)
    plot_reliability(curves, f"val reliability ({cfg.method})", plots / "reliability.png")
    b, a = report["val_before"], report["val_after"]
    typer.echo(
        f"calibrate: {cfg.model} {report['applied']}: val ECE {b['ece']:.4f} -> "
        f"{a['ece']:.4f}, NLL {b['nll']:.4f} -> {a['nll']:.4f} -> {out}"
    )
