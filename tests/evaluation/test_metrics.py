from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from ttmbio.calibration.calibrator import Calibrator
from ttmbio.evaluation.metrics import classification_metrics, evaluate_scored, vote
from ttmbio.params import EvaluateParams


def test_soft_and_hard_voting_by_hand() -> None:
    cases = np.array(["a", "a", "a", "b", "b"])
    scores = np.array([0.9, 0.4, 0.8, 0.2, 0.6])
    labels = np.array([1, 1, 1, 0, 0])
    ids, soft, y = vote(cases, scores, labels, "soft", 0.5)
    assert ids.tolist() == ["a", "b"] and y.tolist() == [1, 0]
    np.testing.assert_allclose(soft, [0.7, 0.4])
    _, hard, _ = vote(cases, scores, labels, "hard", 0.5)
    np.testing.assert_allclose(hard, [2 / 3, 0.5])


def test_metrics_agree_with_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    scores = np.clip(labels * 0.3 + rng.random(400) * 0.7, 0, 1)
    m = classification_metrics(scores, labels, 0.5)
    assert m["auroc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-6)
    assert m["auprc"] == pytest.approx(average_precision_score(labels, scores), abs=1e-4)
    predicted = scores >= 0.5
    assert m["accuracy"] == pytest.approx(float((predicted == labels).mean()))
    assert sum(m["confusion"].values()) == 400
    assert m["accuracy_class_1"] == pytest.approx(float(predicted[labels == 1].mean()))


def _scored_store(n_cases: int = 30, per_case: int = 6) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    case_labels = rng.integers(0, 2, n_cases)
    label = np.repeat(case_labels, per_case).astype(float)
    label[:per_case] = -1  # a case without a label: left out
    score = np.clip(0.3 * label + np.repeat(rng.random(n_cases), per_case) * 0.7, 0, 1)
    cases = np.repeat([f"c{i}" for i in range(n_cases)], per_case)
    subjects = np.repeat([f"s{i // 3}" for i in range(n_cases)], per_case)  # 3 cases each
    return {
        "score": score,
        "label": label,
        "case_id": cases,
        "subject_id": subjects,
        "start_s": np.tile(np.arange(per_case) * 4.0, n_cases),
    }


def test_intervals_resample_the_dataset_unit_and_bracket_the_estimate() -> None:
    test = _scored_store()
    identity = Calibrator("temperature", {"temperature": 1.0})
    reports = {}
    for dataset, unit in (("butppg", "auto"), ("vitaldb", "auto"), ("butppg", "window")):
        cfg = EvaluateParams(bootstrap=300, bootstrap_unit=unit)
        report, known = evaluate_scored(test, identity, cfg, 10, dataset)
        reports[(dataset, unit)] = report["windows"]
        assert len(known["label"]) == len(test["label"]) - 6
        np.testing.assert_allclose(known["probability"], known["score"], atol=1e-12)
    recording, subject = reports[("butppg", "auto")], reports[("vitaldb", "auto")]
    window = reports[("butppg", "window")]
    assert (recording["bootstrap_unit"], recording["n_units"]) == ("recording", 29)
    assert (subject["bootstrap_unit"], subject["n_units"]) == ("subject", 10)
    assert (window["bootstrap_unit"], window["n_units"]) == ("window", 174)
    for w in (recording, subject, window):
        for name in ("auroc", "auprc", "balanced_accuracy"):
            assert w[f"{name}_ci_low"] <= w[name] <= w[f"{name}_ci_high"]
        after = w["calibration_after"]
        assert after["ece_ci_low"] <= after["ece"] <= after["ece_ci_high"]
    width = {k: v["auroc_ci_high"] - v["auroc_ci_low"] for k, v in reports.items()}
    # windows of a case share its score offset: resampling them understates the uncertainty
    assert width[("butppg", "window")] < 0.6 * width[("butppg", "auto")]
    assert width[("vitaldb", "auto")] > width[("butppg", "window")]
    again, _ = evaluate_scored(test, identity, EvaluateParams(bootstrap=300), 10, "butppg")
    assert again["windows"] == recording  # seeded
