"""The TTM forecaster on tiny crafted series: fit, predict, save/load, zero-shot, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ttmbio.errors import SourceError
from ttmbio.forecast.forecasts import forecasts_table
from ttmbio.forecast.model import Forecaster
from ttmbio.params import ForecastModelConfig

TINY = ForecastModelConfig(
    context_length=32,
    forecast_length=8,
    patch_length=8,
    d_model=8,
    num_layers=1,
    epochs=2,
    batch_size=16,
    train_stride=2,
    learning_rate=0.01,
)


def patient_frame(name: str, n: int = 120, phase: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    bg = 7 + 2 * np.sin(2 * np.pi * t / 48 + phase) + 0.05 * rng.normal(size=n)
    carbs = (t % 48 == 0) * 40.0
    return pd.DataFrame(
        {
            "datetime": pd.Timestamp("2024-01-01") + pd.to_timedelta(5 * t, unit="min"),
            "p_num": name,
            "bg_mM": bg,
            "cob": np.convolve(carbs, np.linspace(1, 0, 36), mode="full")[:n],
            "iob": 1 + 0.5 * np.cos(2 * np.pi * t / 48 + phase),
            "dose_units": (t % 48 == 2) * 4.0,
        }
    )


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    return {f"p{i}": patient_frame(f"p{i}", phase=i, seed=i) for i in range(4)}


@pytest.fixture(scope="module")
def fitted(data: dict[str, pd.DataFrame]) -> Forecaster:
    f = Forecaster(TINY)
    train = pd.concat([data["p0"], data["p1"]])
    result = f.fit(train, data["p2"])
    assert result["train_windows"] > 0 and result["val_windows"] > 0
    assert any("eval_loss" in row for row in result["history"])
    # wall-clock timings would make every rerun's saved folder (and its dvc.lock hash) differ
    assert not [k for row in result["history"] for k in row if "runtime" in k or "per_sec" in k]
    return f


def test_predict_shapes_truth_and_persistence(fitted: Forecaster, data: dict) -> None:
    frame = data["p3"].copy()
    frame.loc[70:72, "bg_mM"] = np.nan  # a sensor gap: imputed for the model, NaN as truth
    fc = fitted.predict(frame, stride=4)
    assert fc.predicted.shape == (len(fc.origin), 8) and np.isfinite(fc.predicted).all()
    assert set(fc.patient) == {"p3"}
    first = pd.Timestamp(fc.origin[0])
    assert first == frame["datetime"].iloc[31]  # the first full context ends at step 32
    np.testing.assert_allclose(fc.observed[0], frame["bg_mM"].iloc[32:40])
    assert fc.last[0] == pytest.approx(frame["bg_mM"].iloc[31])
    gap_rows = [i for i, t in enumerate(fc.origin) if pd.Timestamp(t) < frame["datetime"].iloc[70]]
    assert np.isnan(fc.observed).any() and gap_rows
    # the last origins forecast past the end of the data: no truth there
    assert np.isnan(fc.observed[-1, -1])
    assert 3 < np.nanmean(fc.predicted) < 11  # scaled back to mmol/L


def test_save_load_gives_identical_predictions(
    fitted: Forecaster, data: dict, tmp_path: Path
) -> None:
    fitted.save(tmp_path / "f")
    loaded = Forecaster.load(tmp_path / "f")
    a = fitted.predict(data["p3"], stride=5)
    b = loaded.predict(data["p3"], stride=5)
    np.testing.assert_array_equal(a.predicted, b.predicted)
    assert loaded.inputs == fitted.inputs and loaded.config == fitted.config
    zero = loaded.predict_zero_shot(data["p3"], stride=5)  # a loaded model needs no training
    np.testing.assert_array_equal(zero.predicted, a.predicted)


def test_dict_input_equals_the_concatenated_frame(fitted: Forecaster, data: dict) -> None:
    both = {"p2": data["p2"].drop(columns="p_num"), "p3": data["p3"].drop(columns="p_num")}
    from_dict = fitted.predict(both, stride=6)
    from_frame = fitted.predict(pd.concat([data["p2"], data["p3"]]), stride=6)
    np.testing.assert_array_equal(from_dict.predicted, from_frame.predicted)
    assert sorted(set(from_dict.patient)) == ["p2", "p3"]


def test_fine_tuning_keeps_the_scaler_and_changes_the_weights(data: dict) -> None:
    f = Forecaster(TINY)
    f.fit(data["p0"])
    scaler = f.preprocessor.target_scaler_dict["0"].mean_.copy()
    before = f.predict(data["p3"], stride=8).predicted
    f.fit(data["p3"], epochs=1, learning_rate=0.01)
    np.testing.assert_array_equal(f.preprocessor.target_scaler_dict["0"].mean_, scaler)
    assert not np.array_equal(before, f.predict(data["p3"], stride=8).predicted)


@pytest.mark.parametrize("scaler", ["minmax", "robust"])
def test_other_scalers_round_trip_to_target_units(data: dict, scaler: str, tmp_path: Path) -> None:
    f = Forecaster(TINY.model_copy(update={"scaler": scaler, "epochs": 1}))
    f.fit(data["p0"])
    fc = f.predict(data["p1"], stride=8)
    assert 0 < np.nanmean(fc.predicted) < 20
    f.save(tmp_path / scaler)
    again = Forecaster.load(tmp_path / scaler).predict(data["p1"], stride=8)
    np.testing.assert_array_equal(fc.predicted, again.predicted)


def test_a_frame_without_the_target_is_a_clear_error(data: dict) -> None:
    with pytest.raises(SourceError, match="bg_mM"):
        Forecaster(TINY).fit(data["p0"].drop(columns="bg_mM"))


def test_series_too_short_for_a_window_is_a_clear_error() -> None:
    with pytest.raises(SourceError, match="shorter than context_length"):
        Forecaster(TINY).fit(patient_frame("short", n=30))


def test_zero_shot_without_a_model_is_refused(data: dict) -> None:
    with pytest.raises(SourceError, match="zero-shot needs a trained model"):
        Forecaster(TINY).predict_zero_shot(data["p0"])


def test_zero_shot_from_a_local_pretrained_ttm(
    fitted: Forecaster, data: dict, tmp_path: Path
) -> None:
    fitted.model.save_pretrained(tmp_path / "ttm")
    f = Forecaster(TINY.model_copy(update={"model_path": str(tmp_path / "ttm")}))
    fc = f.predict_zero_shot(data["p3"], stride=8)
    assert np.isfinite(fc.predicted).all() and fc.predicted.shape[1] == 8


def test_forecasts_table_is_long_format(fitted: Forecaster, data: dict) -> None:
    fc = fitted.predict(data["p3"], stride=10)
    table = forecasts_table(fc, TINY)
    assert len(table) == len(fc.origin) * 8
    assert list(table.columns) == [
        "p_num",
        "origin",
        "minutes_ahead",
        "bg_mM_forecast",
        "bg_mM_measured",
    ]
    assert table["minutes_ahead"].iloc[:8].tolist() == [5, 10, 15, 20, 25, 30, 35, 40]


def test_logging_dir_gets_tensorboard_events(data: dict, tmp_path: Path) -> None:
    f = Forecaster(TINY.model_copy(update={"epochs": 1, "logging_dir": tmp_path / "logs"}))
    f.fit(data["p0"])
    assert list((tmp_path / "logs").rglob("events.out.tfevents.*"))
