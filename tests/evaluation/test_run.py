"""The evaluate stage as a library call, on a run folder written with the real writers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from dvclive import Live
from sklearn.metrics import roc_auc_score, roc_curve

from ttmbio.calibration.calibrator import Calibrator
from ttmbio.calibration.for_run import calibrator_record, write_calibrator
from ttmbio.errors import ConfigError
from ttmbio.evaluation.run import EvaluateReport, evaluate_run, log_test_plots
from ttmbio.evaluation.scores import read_scores
from ttmbio.finetune.scores import write_run_scores
from ttmbio.finetune.summary import RunSummary, write_run_summary
from ttmbio.params import Params

RUN = "pretrained-1.0-seed42"


def _run_folder(models: Path, n: int = 240) -> Path:
    """A fine-tuning run's folder: weights (any bytes: only their digest is used), summary
    and test scores that rank the labels well but not perfectly."""
    run = models / RUN
    run.mkdir(parents=True)
    (run / "best.pt").write_bytes(b"weights")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, n).astype(np.float32)
    scores = np.clip(0.3 * labels + rng.uniform(0, 0.7, n), 0, 1).astype(np.float32)
    write_run_scores(
        run,
        "test",
        {
            "score": scores,
            "label": labels,
            "case_id": np.array([f"{100 + i % 12}" for i in range(n)]),
            "subject_id": np.array([f"{i % 12}" for i in range(n)]),
            "start_s": np.arange(n) * 8.192,
        },
    )
    write_run_summary(
        run,
        RunSummary(
            task="butppg_quality",
            dataset="butppg",
            kind="binary",
            init="pretrained",
            mode="ft",
            lora=False,
            label_fraction=1.0,
            seed=42,
            train_windows=10,
            val_windows=10,
            best_epoch=1,
            epochs_run=2,
            trainable_parameters={"head": 1},
            val_auroc=0.9,
        ),
    )
    return run


def test_evaluate_run_writes_its_files_and_returns_a_typed_report(tmp_path: Path) -> None:
    models = tmp_path / "models"
    run = _run_folder(models)
    platt = Calibrator("platt", {"a": 1.2, "b": -0.1})
    write_calibrator(tmp_path / "calibrator.json", calibrator_record(platt, RUN, run))
    params = Params.model_validate({"evaluate": {"bootstrap": 200}})
    report = evaluate_run(
        params,
        models,
        tmp_path / "calibrator.json",
        tmp_path / "evaluate.json",
        tmp_path / "scores.csv",
        tmp_path / "plots",
    )
    assert isinstance(report, EvaluateReport) and report.dataset == "butppg"
    scored = read_scores(report.scores_file)
    # the AUROC is scikit-learn's on the calibrated probabilities (Platt with a > 0 keeps
    # the ranking of the raw scores)
    assert report.auroc == pytest.approx(roc_auc_score(scored.label, scored.probability))
    low, high = report.auroc_ci
    assert low <= report.auroc <= high and report.n_units == 12
    assert json.loads(report.metrics_file.read_text()) == report.metrics
    assert report.bootstrap_unit == "recording" and report.recordings == 12
    for name in ("roc.png", "pr.png", "reliability.png", "confusion.png"):
        assert (report.plots / name).is_file(), name
    # the dvc-plots data, logged through dvclive: scikit-learn's curves of the same scores
    live = Live(dir=str(tmp_path / "plots"), save_dvc_exp=False, dvcyaml=None, report=None)
    log_test_plots(live, report, params.evaluate.threshold)
    sklearn_dir = report.plots / "plots" / "sklearn"
    roc = json.loads((sklearn_dir / "roc.json").read_text())["roc"]
    fpr, tpr, _ = roc_curve(scored.label, scored.probability)
    np.testing.assert_allclose([p["fpr"] for p in roc], fpr)
    np.testing.assert_allclose([p["tpr"] for p in roc], tpr)
    assert json.loads((sklearn_dir / "pr.json").read_text())["precision_recall"]
    confusion = json.loads((sklearn_dir / "confusion.json").read_text())
    predicted = (scored.probability >= params.evaluate.threshold).astype(int)
    assert sum(int(c["predicted"]) for c in confusion) == int(predicted.sum())
    assert len(confusion) == len(scored.label)


def test_a_calibrator_of_other_weights_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    models = tmp_path / "models"
    run = _run_folder(models)
    write_calibrator(
        tmp_path / "calibrator.json",
        calibrator_record(Calibrator("temperature", {"temperature": 1.0}), RUN, run),
    )
    (run / "best.pt").write_bytes(b"retrained")
    with pytest.raises(ConfigError, match="fitted on other weights"):
        evaluate_run(
            Params(),
            models,
            tmp_path / "calibrator.json",
            tmp_path / "evaluate.json",
            tmp_path / "scores.csv",
            tmp_path / "plots",
        )
    assert not (tmp_path / "evaluate.json").exists() and not (tmp_path / "plots").exists()
