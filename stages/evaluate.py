"""``ttmbio evaluate``: test metrics of the calibrated model, per window and per recording."""

from __future__ import annotations

from pathlib import Path

import typer

from stages.common import ParamsOption, one_line_errors
from ttmbio.params import load_params


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
    from ttmbio.atomic import atomic_write_json
    from ttmbio.calibration.for_run import calibrator_for
    from ttmbio.calibration.metrics import reliability_curve
    from ttmbio.evaluation import evaluate_scored
    from ttmbio.finetune.summary import read_run_summary
    from ttmbio.plots import plot_confusion, plot_reliability, plot_roc_pr
    from ttmbio.run_scores import model_digest, read_test_scores
    from ttmbio.scores import write_scores

    run = models / cfg.calibrate.model
    record = calibrator_for(calibrator, model_digest(run))
    dataset = read_run_summary(run).dataset
    test = read_test_scores(run)
    report, known = evaluate_scored(
        test, record.calibrator, cfg.evaluate, cfg.calibrate.n_bins, dataset
    )
    raw, calibrated, labels = known["score"], known["probability"], known["label"].astype(int)
    atomic_write_json(metrics, report)
    write_scores(scores, dataset, known)
    plots.mkdir(parents=True, exist_ok=True)
    plot_roc_pr(calibrated.tolist(), labels.tolist(), plots, f"test ({dataset})")
    n_bins = cfg.calibrate.n_bins
    plot_reliability(
        {
            "before": reliability_curve(raw, labels, n_bins),
            "after": reliability_curve(calibrated, labels, n_bins),
        },
        "test reliability",
        plots / "reliability.png",
    )
    c = report["windows"]["confusion"]
    plot_confusion(
        [[c["tn"], c["fp"]], [c["fn"], c["tp"]]], plots / "confusion.png", "test windows"
    )
    predicted = (calibrated >= cfg.evaluate.threshold).astype(int)
    (plots / "confusion.csv").write_text(
        "actual,predicted\n" + "".join(f"{a},{p}\n" for a, p in zip(labels, predicted, strict=True))
    )
    w, r = report["windows"], report["recordings"]
    low, high = w["auroc_ci_low"], w["auroc_ci_high"]
    typer.echo(
        f"evaluate: test AUROC {w['auroc']:.3f} [{low:.3f}, {high:.3f}] over "
        f"{w['n_units']} {w['bootstrap_unit']}s, AUPRC "
        f"{w['auprc']:.3f}, ECE {w['calibration_before']['ece']:.3f} -> "
        f"{w['calibration_after']['ece']:.3f}; per recording ({r['voting']} voting, "
        f"n={r['n']}) AUROC {r.get('auroc', float('nan')):.3f}"
    )
