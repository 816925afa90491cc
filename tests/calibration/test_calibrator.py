"""Calibration: metrics against hand-computed and independent values, and each method
recovering a known miscalibration (scores = sigmoid(3 * logit(p_true)))."""

from __future__ import annotations

import inspect
import json
import math
import re

import numpy as np
import pytest
import torch
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression
from torchmetrics.functional.classification import (
    binary_calibration_error,
    multiclass_calibration_error,
)

from ttmbio.calibration import calibrator, for_run, metrics
from ttmbio.calibration.calibrator import Calibrator, fit_calibrator
from ttmbio.calibration.metrics import (
    brier,
    calibration_report,
    expected_calibration_error,
    nll,
    reliability_curve,
)
from ttmbio.errors import ConfigError

METHODS = ("temperature", "platt", "isotonic")


def numpy_top_label_ece(probs: np.ndarray, labels: np.ndarray, n_bins: int) -> float:
    """Independent reference: equal-width bins over max(p, 1 - p), |accuracy - confidence|."""
    pred = (probs > 0.5).astype(int)
    conf = np.where(pred == 1, probs, 1.0 - probs)
    correct = (pred == labels).astype(float)
    idx = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        in_bin = idx == b
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return total


# --------------------------------------------------------------------------- ECE


def test_ece_hand_computed() -> None:
    probs = np.array([0.6, 0.45, 0.7, 0.2, 0.9, 0.95])
    labels = np.array([1, 1, 1, 0, 1, 0])
    # predicted class 1 iff p > 0.5 -> pred [1, 0, 1, 0, 1, 1]
    # confidence max(p, 1-p) = [0.6, 0.55, 0.7, 0.8, 0.9, 0.95]; correct = [1, 0, 1, 1, 1, 0]
    # 6 bins of width 1/6; only the top three can hold a confidence >= 0.5:
    #   [3/6, 4/6): 0.6, 0.55  -> conf 0.575, acc 0.5 -> gap 0.075
    #   [4/6, 5/6): 0.7, 0.8   -> conf 0.75,  acc 1.0 -> gap 0.25
    #   [5/6, 1]  : 0.9, 0.95  -> conf 0.925, acc 0.5 -> gap 0.425
    # each bin holds 2/6 of the samples: ECE = (0.075 + 0.25 + 0.425) / 3 = 0.25
    assert expected_calibration_error(probs, labels, n_bins=6) == pytest.approx(0.25, abs=1e-12)
    assert numpy_top_label_ece(probs, labels, 6) == pytest.approx(0.25, abs=1e-12)
    # binary_calibration_error(p, y) alone bins p(class 1), a different (class-1) quantity:
    # gaps 0.2, 0.55, 0.4, 0.3 (one sample each) and 2 * 0.425 -> 2.3 / 6
    class1 = float(binary_calibration_error(torch.tensor(probs), torch.tensor(labels), n_bins=6))
    assert class1 == pytest.approx(2.3 / 6, abs=1e-12)


@pytest.mark.parametrize("n_bins", [5, 10, 15])
def test_ece_matches_torchmetrics_and_numpy_on_random_data(n_bins: int) -> None:
    rng = np.random.default_rng(n_bins)
    probs = rng.uniform(0.0, 1.0, 2000)
    # overconfident on purpose: the true P(y=1) is shrunk towards 0.5
    labels = (rng.uniform(size=2000) < 0.5 + 0.6 * (probs - 0.5)).astype(int)
    ours = expected_calibration_error(probs, labels, n_bins=n_bins)
    two_col = torch.from_numpy(np.stack([1.0 - probs, probs], axis=1))
    tm = float(
        multiclass_calibration_error(
            two_col, torch.from_numpy(labels), num_classes=2, n_bins=n_bins, norm="l1"
        )
    )
    assert ours == pytest.approx(tm, abs=1e-6)  # torchmetrics' multiclass path runs in float32
    assert ours == pytest.approx(numpy_top_label_ece(probs, labels, n_bins), abs=1e-10)
    assert ours > 0.05


def test_ece_perfect_confident_predictions_is_zero() -> None:
    assert expected_calibration_error(np.array([0.0, 1.0, 0.0]), np.array([0, 1, 0])) == 0.0


# --------------------------------------------------------------------------- nll, brier, curve


def test_nll_and_brier_hand_computed() -> None:
    probs, labels = np.array([0.8, 0.3, 0.5]), np.array([1, 0, 1])
    # -(ln 0.8 + ln 0.7 + ln 0.5) / 3
    assert nll(probs, labels) == pytest.approx(-(math.log(0.8) + math.log(0.7) + math.log(0.5)) / 3)
    # (0.2^2 + 0.3^2 + 0.5^2) / 3 = 0.38 / 3
    assert brier(probs, labels) == pytest.approx(0.38 / 3)
    # a sure miss is clipped to 1e-6, not inf
    assert nll(np.array([1.0]), np.array([0])) == pytest.approx(-math.log(1e-6), rel=1e-6)
    report = calibration_report(probs, labels, n_bins=10)
    assert set(report) == {"ece", "nll", "brier"}
    assert all(isinstance(v, float) for v in report.values())


def test_reliability_curve() -> None:
    probs = np.array([0.05, 0.1, 0.55, 0.6, 0.65, 1.0])
    labels = np.array([0, 1, 1, 0, 1, 1])
    curve = reliability_curve(probs, labels, n_bins=4)
    # bins [0, .25]: 0.05, 0.1 | (.5, .75]: 0.55, 0.6, 0.65 | (.75, 1]: 1.0 ; (.25, .5] empty
    assert curve["count"] == [2.0, 3.0, 1.0]
    assert curve["bin_lower"] == [0.0, 0.5, 0.75]
    assert curve["mean_predicted"] == pytest.approx([0.075, 0.6, 1.0])
    assert curve["observed_frequency"] == pytest.approx([0.5, 2 / 3, 1.0])

    rng = np.random.default_rng(3)
    probs = rng.uniform(size=777)
    labels = (rng.uniform(size=777) < probs).astype(int)
    curve = reliability_curve(probs, labels, n_bins=15)
    assert sum(curve["count"]) == 777
    lo, hi, mean = (np.array(curve[k]) for k in ("bin_lower", "bin_upper", "mean_predicted"))
    assert np.all((mean >= lo) & (mean <= hi))
    json.dumps(curve)


def test_reliability_curve_bins_like_scikit_learn_at_the_edges() -> None:
    """Isotonic maps output exact values such as 0.5: a bin edge. scikit-learn's bins are
    (k/n, (k+1)/n] (the first closed); the counts must follow the same rule as its means."""
    probs = np.array([0.0, 0.25, 0.25, 0.5, 0.5, 0.5, 0.75, 1.0])
    labels = np.array([0, 0, 1, 1, 1, 0, 1, 1])
    curve = reliability_curve(probs, labels, n_bins=4)
    assert curve["bin_lower"] == [0.0, 0.25, 0.5, 0.75]
    assert curve["count"] == [3.0, 3.0, 1.0, 1.0]
    assert curve["mean_predicted"] == pytest.approx([0.5 / 3, 0.5, 0.75, 1.0])
    assert curve["observed_frequency"] == pytest.approx([1 / 3, 2 / 3, 1.0, 1.0])
    one_class = reliability_curve(probs, np.zeros(8, dtype=int), n_bins=4)
    assert one_class["observed_frequency"] == [0.0] * 4


# --------------------------------------------------------------------------- fitting


@pytest.fixture(scope="module")
def overconfident() -> dict[str, np.ndarray]:
    """True p ~ U(0.05, 0.95), y ~ Bernoulli(p), reported scores sigmoid(3 logit p).

    The estimates are unbiased but noisy at n = 2500: over seeds 0..199 the sd of b is 0.046
    and of T is 0.14, so the +-0.1 / +-0.3 tolerances fail for ~1.5% / ~3.5% of seeds (seed
    20240611 gives b = -0.101). Seed 0 is fixed so the test is deterministic.
    """
    rng = np.random.default_rng(0)
    n = 5000
    p_true = rng.uniform(0.05, 0.95, n)
    labels = (rng.uniform(size=n) < p_true).astype(int)
    scores = expit(3.0 * logit(p_true))
    half = n // 2
    return {
        "val_p": scores[:half],
        "val_y": labels[:half],
        "test_p": scores[half:],
        "test_y": labels[half:],
    }


@pytest.mark.parametrize("method", METHODS)
def test_calibrator_fixes_overconfidence(method: str, overconfident: dict[str, np.ndarray]) -> None:
    d = overconfident
    cal = fit_calibrator(d["val_p"], d["val_y"], method)  # fitted on one half only
    out = cal.apply(d["test_p"])
    assert out.shape == d["test_p"].shape
    before = calibration_report(d["test_p"], d["test_y"], n_bins=15)
    after = calibration_report(out, d["test_y"], n_bins=15)
    assert after["ece"] <= before["ece"] / 2, (before, after)
    assert after["nll"] <= before["nll"], (before, after)
    assert after["brier"] <= before["brier"], (before, after)


def test_temperature_recovers_three(overconfident: dict[str, np.ndarray]) -> None:
    d = overconfident
    cal = fit_calibrator(d["val_p"], d["val_y"], "temperature")
    t = cal.params["temperature"]
    assert t == pytest.approx(3.0, abs=0.3)
    # the optimiser found a minimum of the validation NLL, not just a nearby point
    at = nll(cal.apply(d["val_p"]), d["val_y"])
    for other in (t * 0.98, t * 1.02):
        shifted = Calibrator("temperature", {"temperature": other}).apply(d["val_p"])
        assert nll(shifted, d["val_y"]) >= at


def test_platt_recovers_one_third(overconfident: dict[str, np.ndarray]) -> None:
    d = overconfident
    cal = fit_calibrator(d["val_p"], d["val_y"], "platt")
    assert cal.params["a"] == pytest.approx(1 / 3, abs=0.05)
    assert cal.params["b"] == pytest.approx(0.0, abs=0.1)


def test_isotonic_is_monotone_and_matches_sklearn(overconfident: dict[str, np.ndarray]) -> None:
    d = overconfident
    cal = fit_calibrator(d["val_p"], d["val_y"], "isotonic")
    grid = np.linspace(0.0, 1.0, 2001)
    out = cal.apply(grid)
    assert np.all(np.diff(out) >= 0)
    assert out.min() >= 0.0 and out.max() <= 1.0
    ref = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(d["val_p"], d["val_y"])
    np.testing.assert_allclose(cal.apply(d["test_p"]), ref.predict(d["test_p"]), atol=1e-12)


def test_apply_keeps_shape() -> None:
    cal = Calibrator("platt", {"a": 0.5, "b": 0.1})
    assert cal.apply(np.full((3, 4), 0.7)).shape == (3, 4)


@pytest.mark.parametrize(
    ("probs", "labels", "message"),
    [
        ([0.2, 0.7, 0.9], [1, 1, 1], "only class 1"),
        ([0.2, 0.7, 0.9], [0, 1], "length mismatch"),
        ([0.2, float("nan"), 0.9], [0, 1, 1], "NaN"),
        ([], [], "empty"),
        ([0.2, 0.7], [0, 2], "0 or 1"),
        ([0.2, 0.7], [0.0, float("nan")], "NaN"),
        ([-1.5, 2.0], [0, 1], r"\[0, 1\]"),
    ],
)
def test_fit_rejects_bad_input(probs: list, labels: list, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        fit_calibrator(np.array(probs), np.array(labels), "temperature")
    assert "\n" not in str(err.value)


def test_fit_rejects_unknown_method() -> None:
    with pytest.raises(ConfigError, match="unknown calibration method 'beta'"):
        fit_calibrator(np.array([0.1, 0.9]), np.array([0, 1]), "beta")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- JSON


@pytest.mark.parametrize("method", METHODS)
def test_json_round_trip(method: str, overconfident: dict[str, np.ndarray]) -> None:
    d = overconfident
    cal = fit_calibrator(d["val_p"], d["val_y"], method)
    text = json.dumps(cal.to_json(), allow_nan=False)
    back = Calibrator.from_json(json.loads(text))
    assert back == cal
    np.testing.assert_array_equal(back.apply(d["test_p"]), cal.apply(d["test_p"]))
    # metadata next to method/params (e.g. the model it was fitted for) is ignored
    assert Calibrator.from_json({**json.loads(text), "model": "run-a"}) == cal
    # the file says which format it is; one written before formats were recorded still reads
    assert cal.to_json()["format"] == "ttmbio-calibrator/1"
    legacy = {k: v for k, v in cal.to_json().items() if k != "format"}
    assert Calibrator.from_json(legacy) == cal


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"method": "beta", "params": {}}, "unknown calibration method 'beta'"),
        ({"method": "temperature"}, "missing \\['params'\\]"),
        ({"params": {"a": 1.0, "b": 0.0}}, "missing \\['method'\\]"),
        ({"method": "temperature", "params": {}}, "params.temperature: Field required"),
        ({"method": "platt", "params": {"a": 1.0}}, "params.b: Field required"),
        ({"method": "isotonic", "params": {"x": [0.0, 1.0]}}, "params.y: Field required"),
        ({"method": "platt", "params": {"a": 1, "b": 0, "c": 2}}, "params.c: Extra inputs"),
        ({"method": "temperature", "params": {"temperature": -1.0}}, "greater than 0"),
        ({"method": "temperature", "params": {"temperature": "3"}}, "valid number"),
        (
            {"method": "platt", "params": {"a": True, "b": 0.0}},
            "params.a: Input should be a valid number",
        ),
        ({"method": "platt", "params": {"a": float("nan"), "b": 0.0}}, "finite number"),
        ({"method": "isotonic", "params": {"x": [0.0, 1.0], "y": [0.5]}}, "same length"),
        ({"method": "isotonic", "params": {"x": [0.5, 0.1], "y": [0.1, 0.5]}}, "non-decreasing"),
        (
            {"method": "isotonic", "params": {"x": [], "y": []}},
            "params.x: List should have at least 1",
        ),
        (
            {"method": "isotonic", "params": {"x": [0.0, 1.5], "y": [0.1, 0.5]}},
            "less than or equal to 1",
        ),
        (
            {"format": "ttmbio-calibrator/2", "method": "platt", "params": {"a": 1, "b": 0}},
            "format 'ttmbio-calibrator/2' is not 'ttmbio-calibrator/1'.*re-run `ttmbio calibrate`",
        ),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_from_json_rejects(doc: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        Calibrator.from_json(doc)  # type: ignore[arg-type]
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("module", [calibrator, metrics, for_run])
def test_no_pickle_in_module(module) -> None:
    src = inspect.getsource(module)
    assert not re.search(r"\b(import|from)\s+(pickle|joblib|dill|cloudpickle)\b", src)
    assert "torch.save" not in src and "torch.load" not in src
