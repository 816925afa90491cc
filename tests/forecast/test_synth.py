"""The simglucose-based glucose dataset: shape, physiology, on-board curves, gaps, determinism."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ttmbio.forecast.on_board import carbs_on_board, exponential_iob_fraction, insulin_on_board
from ttmbio.forecast.synth import COLUMNS, PATIENTS, add_gaps, simulate_patient, synthesize_glucose
from ttmbio.params import GlucoseSynthParams

HALF_DAY = 0.5
SUMMARY_KEYS = {
    "patients",
    "rows",
    "days",
    "mean_bg_mgdl",
    "pct_time_in_range_70_180",
    "pct_time_below_70",
    "pct_missing_bg",
    "meals",
    "total_carbs_g",
}


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    return simulate_patient("adult#002", HALF_DAY, seed=11)


@pytest.fixture(scope="module")
def two_patients(adult: pd.DataFrame) -> pd.DataFrame:
    child = simulate_patient("child#003", HALF_DAY, seed=5)
    return pd.concat([adult, child], ignore_index=True)


def _oref0_iob(t: float, peak: float = 75.0, end: float = 360.0) -> float:
    """oref0 lib/iob/calculate.js iobCalcExponential, transcribed for one bolus of 1 U."""
    if t >= end:
        return 0.0
    tau = peak * (1 - peak / end) / (1 - 2 * peak / end)
    a = 2 * tau / end
    s = 1 / (1 - a + (1 + a) * math.exp(-end / tau))
    return 1 - s * (1 - a) * ((t**2 / (tau * end * (1 - a)) - t / tau - 1) * math.exp(-t / tau) + 1)


def _nan_runs(values: np.ndarray) -> list[int]:
    """Lengths of consecutive NaN runs."""
    runs, current = [], 0
    for missing in np.isnan(values):
        if missing:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    return [*runs, current] if current else runs


# --------------------------------------------------------------------------- simulation


def test_patients_interleave_cohorts() -> None:
    assert len(PATIENTS) == len(set(PATIENTS)) == 30
    assert PATIENTS[:4] == ["adolescent#001", "adult#001", "child#001", "adolescent#002"]
    assert {p.split("#")[0] for p in PATIENTS[:3]} == {"adolescent", "adult", "child"}


def test_simulated_patient_is_a_regular_plausible_series(adult: pd.DataFrame) -> None:
    assert list(adult.columns) == COLUMNS
    assert len(adult) == HALF_DAY * 24 * 12
    assert pd.api.types.is_datetime64_any_dtype(adult["datetime"])
    assert set(adult["p_num"]) == {"adult_002"}
    for column in ["bg_mM", "cob", "iob", "dose_units", "carbs_g"]:
        assert adult[column].dtype == np.float64, column
    assert (adult["datetime"].diff().dropna() == pd.Timedelta(minutes=5)).all()
    assert adult["bg_mM"].between(2.0, 30.0).all()
    assert adult["bg_mM"].std() > 0.3  # meals move glucose
    assert (adult[["cob", "iob", "dose_units", "carbs_g"]] >= 0).all().all()


def test_meals_get_boluses(adult: pd.DataFrame) -> None:
    basal = adult["dose_units"].min()
    assert basal > 0
    meals = adult.index[adult["carbs_g"] > 0]
    boluses = adult.index[adult["dose_units"] > basal + 1e-9]
    assert len(meals) >= 1 and len(boluses) >= 1
    # the basal-bolus controller doses for the meal it saw in the previous step
    assert set(meals + 1) <= set(boluses)
    assert adult.loc[meals, "cob"].to_numpy() == pytest.approx(adult.loc[meals, "carbs_g"])


def test_fast_params_patch_gives_identical_simulation(adult: pd.DataFrame) -> None:
    slow = simulate_patient("adult#002", HALF_DAY, seed=11, fast_params=False)
    pd.testing.assert_frame_equal(slow, adult, check_exact=True)


def test_seed_changes_the_run() -> None:
    a = simulate_patient("child#001", 2 / 24, seed=1)
    b = simulate_patient("child#001", 2 / 24, seed=2)
    assert not np.array_equal(a["bg_mM"], b["bg_mM"])


def test_unknown_patient_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown simglucose patient"):
        simulate_patient("adult#011", 0.1, seed=0)


# --------------------------------------------------------------------------- on board


def test_iob_fraction_matches_oref0_formula() -> None:
    minutes = np.arange(0, 400, 5.0)
    expected = [max(_oref0_iob(t), 0.0) for t in minutes]
    assert exponential_iob_fraction(minutes) == pytest.approx(expected, abs=1e-12)
    # published activity curve is minus the derivative of IOB
    tau = 75 * (1 - 75 / 360) / (1 - 150 / 360)
    a = 2 * tau / 360
    s = 1 / (1 - a + (1 + a) * math.exp(-360 / tau))
    for t in [30.0, 75.0, 200.0]:
        activity = s / tau**2 * t * (1 - t / 360) * math.exp(-t / tau)
        slope = (_oref0_iob(t + 0.01) - _oref0_iob(t - 0.01)) / 0.02
        assert -slope == pytest.approx(activity, rel=1e-5)
    # activity peaks at 75 min
    fine = np.arange(60.0, 90.0, 0.5)
    assert fine[np.argmin(np.diff(exponential_iob_fraction(fine)))] == pytest.approx(75, abs=1)


def test_iob_after_a_single_bolus() -> None:
    dose = np.zeros(100)
    dose[10] = 1.0
    iob = insulin_on_board(dose)
    assert (iob[:10] == 0).all()
    assert iob[10] == pytest.approx(1.0)
    assert iob[10 + 15] == pytest.approx(_oref0_iob(75.0))  # 75 min later, ~0.69 U
    assert 0.4 < iob[10 + 24] < 0.6  # about half gone after 2 h
    assert np.all(np.diff(iob[10:]) <= 1e-12)
    assert iob[10 + 72] == 0.0  # gone after 6 h
    assert iob[10 + 71] < 1e-3


def test_iob_is_linear_and_steady_under_constant_basal() -> None:
    dose = np.zeros(200)
    dose[[5, 40]] = [2.0, 3.0]
    both = insulin_on_board(dose)
    one, other = np.zeros(200), np.zeros(200)
    one[5], other[40] = 2.0, 3.0
    assert both == pytest.approx(insulin_on_board(one) + insulin_on_board(other))
    basal = np.full(150, 0.1)
    steady = insulin_on_board(basal, steady_dose=0.1)
    assert steady == pytest.approx(np.full(150, steady[0]))
    assert insulin_on_board(basal)[-1] == pytest.approx(steady[0])  # ramp reaches it


def test_cob_after_a_single_meal() -> None:
    carbs = np.zeros(60)
    carbs[4] = 30.0
    cob = carbs_on_board(carbs)
    assert (cob[:4] == 0).all()
    assert cob[4] == pytest.approx(30.0)
    assert cob[4 + 18] == pytest.approx(15.0)  # 90 min
    assert cob[4 + 36] == 0.0  # 3 h
    assert (cob[4 + 36 :] == 0).all()


# --------------------------------------------------------------------------- gaps


def test_gaps_are_nan_runs_in_bg_only(two_patients: pd.DataFrame) -> None:
    gapped = add_gaps(two_patients, 8.0, (15.0, 90.0), np.random.default_rng(0))
    pd.testing.assert_frame_equal(
        gapped.drop(columns="bg_mM"), two_patients.drop(columns="bg_mM"), check_exact=True
    )
    kept = gapped["bg_mM"].notna()
    assert (gapped.loc[kept, "bg_mM"] == two_patients.loc[kept, "bg_mM"]).all()
    for _, part in gapped.groupby("p_num"):
        runs = _nan_runs(part["bg_mM"].to_numpy())
        assert runs, "8 gaps/day over half a day should leave some"
        assert all(15 <= 5 * n <= 90 for n in runs)


def test_no_gaps_when_rate_is_zero(adult: pd.DataFrame) -> None:
    gapped = add_gaps(adult, 0.0, (15.0, 90.0), np.random.default_rng(0))
    pd.testing.assert_frame_equal(gapped, adult)


# --------------------------------------------------------------------------- dataset


def test_synthesize_is_byte_identical_across_workers(tmp_path: Path) -> None:
    params = GlucoseSynthParams(seed=7, n_patients=3, days=HALF_DAY, gaps_per_day=4.0, workers=1)
    one = synthesize_glucose(params, tmp_path / "w1")
    two = synthesize_glucose(params.model_copy(update={"workers": 2}), tmp_path / "w2")
    csv = (tmp_path / "w1" / "glucose.csv").read_bytes()
    assert csv == (tmp_path / "w2" / "glucose.csv").read_bytes()
    assert one == two
    assert set(one) == SUMMARY_KEYS
    assert one["patients"] == 3 and one["rows"] == 3 * 144 and one["days"] == HALF_DAY
    assert one["meals"] > 0 and one["total_carbs_g"] > 0
    assert 0 < one["pct_missing_bg"] < 100
    assert 0 <= one["pct_time_below_70"] + one["pct_time_in_range_70_180"] <= 100
    assert one["pct_time_in_range_70_180"] > 50  # a basal-bolus patient is mostly in range

    data = pd.read_csv(tmp_path / "w1" / "glucose.csv")
    assert list(data.columns) == COLUMNS
    assert list(data["p_num"].unique()) == ["adolescent_001", "adult_001", "child_001"]
    assert data.drop(columns="bg_mM").notna().all().all()
    assert data["bg_mM"].isna().any()
    assert not list(tmp_path.glob("**/.*tmp*"))  # atomic write left no temp file


def test_readings_end_where_simglucose_ends_the_episode() -> None:
    # with this seed child#008's controller drives plasma glucose to 0 mg/dL by 16:30 of day 1
    dead = simulate_patient("child#008", 0.75, seed=621261082)
    missing = dead["bg_mM"].isna().to_numpy()
    first = int(np.argmax(missing))
    assert 0 < first < len(dead) - 1
    assert missing[first:].all()  # the model does not recover: no readings from there on
    assert dead["bg_mM"].iloc[first - 1] == pytest.approx(39 / 18, abs=1e-3)  # sensor floor
    assert dead[["cob", "iob", "dose_units", "carbs_g"]].notna().all().all()
