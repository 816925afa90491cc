"""The evaluate stage as a library call: a fine-tuning run's test scores, through the
calibrator fitted on its weights, to the metrics file, the scored-windows file and the plots.

Nothing here loads a model: the run wrote its kept weights' test scores
(:mod:`ttmbio.finetune.scores`), and the calibrator is refused unless it was fitted on those very
weights (their SHA-256).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from ttmbio.atomic import atomic_write_json
from ttmbio.calibration.for_run import calibrator_for
from ttmbio.calibration.metrics import reliability_curves
from ttmbio.evaluation.metrics import evaluate_scored
from ttmbio.evaluation.scores import read_scores, write_scores
from ttmbio.finetune.scores import model_digest, read_test_scores
from ttmbio.finetune.summary import read_run_summary
from ttmbio.params import Params

if TYPE_CHECKING:
    from dvclive import Live


class EvaluateReport(BaseModel):
    """What ``ttmbio evaluate`` did: the headline numbers it prints and the files it wrote;
    ``metrics`` is the whole metrics file (per window and per recording)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    dataset: str
    auroc: float
    auroc_ci: tuple[float, float]
    auprc: float
    bootstrap_unit: str
    n_units: int
    ece_before: float
    ece_after: float
    voting: str
    recordings: int
    recording_auroc: float | None  # None when the recordings hold one class only
    metrics: dict[str, Any]
    metrics_file: Path
    scores_file: Path
    plots: Path


def evaluate_run(
    params: Params, models: Path, calibrator: Path, metrics: Path, scores: Path, plots: Path
) -> EvaluateReport:
    """Evaluate run ``models/<calibrate.model>`` on its test scores through ``calibrator``;
    write the metrics, the scored windows (for ``ttmbio compare``) and ROC/PR, reliability
    and confusion PNGs."""
    from ttmbio.plots import plot_confusion, plot_reliability, plot_roc_pr  # matplotlib

    name = params.calibrate.model
    run = models / name
    record = calibrator_for(calibrator, model_digest(run))
    dataset = read_run_summary(run).dataset
    report, known = evaluate_scored(
        read_test_scores(run),
        record.calibrator,
        params.evaluate,
        params.calibrate.n_bins,
        dataset,
    )
    raw, calibrated, labels = known["score"], known["probability"], known["label"].astype(int)
    atomic_write_json(metrics, report)
    write_scores(scores, dataset, known)
    plots.mkdir(parents=True, exist_ok=True)
    plot_roc_pr(calibrated.tolist(), labels.tolist(), plots, f"test ({dataset})")
    curves = reliability_curves(raw, calibrated, labels, params.calibrate.n_bins)
    plot_reliability(curves, "test reliability", plots / "reliability.png")
    c = report["windows"]["confusion"]
    matrix = [[c["tn"], c["fp"]], [c["fn"], c["tp"]]]
    plot_confusion(matrix, plots / "confusion.png", "test windows")
    w, r = report["windows"], report["recordings"]
    return EvaluateReport(
        model=name,
        dataset=dataset,
        auroc=w["auroc"],
        auroc_ci=(w["auroc_ci_low"], w["auroc_ci_high"]),
        auprc=w["auprc"],
        bootstrap_unit=w["bootstrap_unit"],
        n_units=w["n_units"],
        ece_before=w["calibration_before"]["ece"],
        ece_after=w["calibration_after"]["ece"],
        voting=r["voting"],
        recordings=r["n"],
        recording_auroc=r.get("auroc"),
        metrics=report,
        metrics_file=metrics,
        scores_file=scores,
        plots=plots,
    )


def log_test_plots(live: Live, report: EvaluateReport, threshold: float) -> None:
    """The ROC, precision-recall and confusion data of the evaluated test windows, logged
    with dvclive for ``dvc plots`` (``<live.dir>/plots/sklearn/{roc,pr,confusion}.json``)."""
    scored = read_scores(report.scores_file)
    labels = scored.label.astype(int)
    predicted = (scored.probability >= threshold).astype(int)
    live.log_sklearn_plot("roc", labels, scored.probability, name="roc.json")
    live.log_sklearn_plot("precision_recall", labels, scored.probability, name="pr.json")
    live.log_sklearn_plot("confusion_matrix", labels, predicted, name="confusion.json")
