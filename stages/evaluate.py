"""``ttmbio evaluate``: test metrics of the calibrated model, per window and per recording."""

from __future__ import annotations

from pathlib import Path

import typer

from ttmbio.params import load_params
from ttmbio_stages.common import ParamsOption, one_line_errors


@one_line_errors
def evaluate(
    models: Path = typer.Option(Path("models/finetune"), help="parent of fine-tuning runs."),
    calibrator: Path = typer.Option(
        Path("models/calibrate/calibrator.json"), help="calibrator written by calibrate."
    ),
    metrics: Path = typer.Option(Path("metrics/evaluate.json"), help="test metrics file."),
    scores: Path = typer.Option(
        Path("metrics/evaluate_scores.csv"), help="scored test windows (for ttmbio compare)."
    ),
    plots: Path = typer.Option(Path("plots/evaluate"), help="ROC/PR/reliability/confusion."),
    params: Path = ParamsOption,
) -> None:
    """Test metrics of the calibrated model, from the test scores its fine-tuning run wrote;
    write metrics and plots."""
    cfg = load_params(params)
    from dvclive import Live

    from ttmbio.evaluation.run import evaluate_run, log_test_plots

    r = evaluate_run(cfg, models, calibrator, metrics, scores, plots)
    # ROC/PR/confusion data for `dvc plots`, in dvclive's format: <plots>/plots/sklearn/*.json
    live = Live(dir=str(plots), save_dvc_exp=False, dvcyaml=None, report=None)
    log_test_plots(live, r, cfg.evaluate.threshold)
    low, high = r.auroc_ci
    per_recording = float("nan") if r.recording_auroc is None else r.recording_auroc
    typer.echo(
        f"evaluate: test AUROC {r.auroc:.3f} [{low:.3f}, {high:.3f}] over {r.n_units} "
        f"{r.bootstrap_unit}s, AUPRC {r.auprc:.3f}, ECE {r.ece_before:.3f} -> "
        f"{r.ece_after:.3f}; per recording ({r.voting} voting, n={r.recordings}) AUROC "
        f"{per_recording:.3f}"
    )
