"""Comparing forecasters on the same origins, against persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ttmbio.forecast.evaluate import after_cutoff, compare, persistence
from ttmbio.forecast.forecasts import Forecasts

T0 = pd.Timestamp("2024-01-01")


def forecasts(predicted: np.ndarray, observed: np.ndarray, last: np.ndarray) -> Forecasts:
    n = len(predicted)
    origins = np.array(
        [T0 + pd.Timedelta(minutes=30 * i) for i in range(n)], dtype="datetime64[ns]"
    )
    return Forecasts(np.array(["p"] * n), origins, predicted, observed, last)


def test_persistence_repeats_the_last_value() -> None:
    fc = forecasts(np.zeros((2, 3)), np.zeros((2, 3)), np.array([5.0, 6.0]))
    np.testing.assert_array_equal(persistence(fc), [[5, 5, 5], [6, 6, 6]])


def test_only_origins_after_the_cutoff_are_kept() -> None:
    fc = forecasts(np.zeros((4, 2)), np.zeros((4, 2)), np.zeros(4))
    kept = after_cutoff(fc, {"p": T0 + pd.Timedelta(minutes=60)})
    assert len(kept.origin) == 2 and pd.Timestamp(kept.origin[0]) == T0 + pd.Timedelta(minutes=60)


def test_compare_scores_every_method_on_the_same_truth() -> None:
    observed = np.tile(np.linspace(6, 9, 12), (4, 1))  # rising 0.27 mmol/L per step
    last = np.full(4, 6.0 - 3 / 11)
    perfect = forecasts(observed.copy(), observed, last)
    off = forecasts(observed + 1.0, observed, last)  # 18 mg/dL too high everywhere
    report = compare({"perfect": perfect, "off": off}, 5, [30, 60])
    assert report["perfect"]["30min"]["rmse_mgdl"] == 0
    assert report["off"]["60min"]["rmse_mgdl"] == pytest.approx(18.0)
    assert report["persistence"]["60min"]["rmse_mgdl"] > report["persistence"]["30min"]["rmse_mgdl"]
    assert report["perfect"]["rmse_vs_persistence"]["30min"] == 0
    assert report["windows"] == 4 and report["patients"] == 1


def test_compare_refuses_forecasts_from_other_origins() -> None:
    a = forecasts(np.zeros((2, 12)), np.ones((2, 12)), np.ones(2))
    b = forecasts(np.zeros((3, 12)), np.ones((3, 12)), np.ones(3))
    with pytest.raises(ValueError, match="other origins"):
        compare({"a": a, "b": b}, 5, [30])


def test_metrics_and_plots_read_forecasts_without_torch() -> None:
    """Forecasts live outside the model module, so scoring them needs no torch import."""
    import subprocess
    import sys

    code = (
        "import sys, ttmbio.forecast.evaluate, ttmbio.forecast.plots; "
        "assert 'torch' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
