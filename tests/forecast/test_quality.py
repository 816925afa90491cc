"""Quality checks and imputation of forecasting input, on small hand-made frames."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ttmbio.errors import ConfigError, SourceError
from ttmbio.forecast.quality import DataQualityError, QualityReport, check_and_clean, to_frame

T0 = pd.Timestamp("2024-01-01 00:00")
INPUTS = ["cob", "iob", "dose_units"]


def patient(
    pid: object,
    bg: list[float],
    *,
    minutes: list[float] | None = None,
    cob: list[float] | None = None,
    iob: list[float] | None = None,
    dose: list[float] | None = None,
) -> pd.DataFrame:
    """One patient's rows, 5-min sampled unless ``minutes`` says otherwise."""
    n = len(bg)
    minutes = minutes if minutes is not None else [5.0 * i for i in range(n)]
    return pd.DataFrame(
        {
            "datetime": [T0 + pd.Timedelta(minutes=m) for m in minutes],
            "p_num": pid,
            "bg_mM": bg,
            "cob": cob if cob is not None else [float(i % 3) for i in range(n)],
            "iob": iob if iob is not None else [0.5 * i for i in range(n)],
            "dose_units": dose if dose is not None else [float(i % 2) for i in range(n)],
        }
    )


def clean(data: pd.DataFrame | dict[str, pd.DataFrame], **kw: object):
    return check_and_clean(data, target="bg_mM", inputs=INPUTS, **kw)


BG = [5.0, 5.5, 6.0, 6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5]


# ------------------------------------------------------------------ errors


def _one_line_error(data: object, match: str, **kw: object) -> str:
    with pytest.raises(DataQualityError, match=match) as info:
        clean(data, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_error_is_a_source_error() -> None:
    assert issubclass(DataQualityError, SourceError)


def test_missing_target_column() -> None:
    frame = patient("p1", BG).drop(columns="bg_mM")
    msg = _one_line_error(frame, "no target column 'bg_mM'")
    assert "set forecast.model.target" in msg
    assert "'cob'" in msg  # the columns that are there


def test_missing_input_columns() -> None:
    frame = patient("p1", BG).drop(columns=["iob", "dose_units"])
    msg = _one_line_error(frame, r"no input column\(s\) \['iob', 'dose_units'\]")
    assert "forecast.model.inputs" in msg


def test_missing_id_column() -> None:
    frame = patient("p1", BG).drop(columns="p_num")
    _one_line_error(frame, "no id column 'p_num'.*forecast.model.id_column")


def test_missing_timestamp_column() -> None:
    frame = patient("p1", BG).rename(columns={"datetime": "time"})
    _one_line_error(frame, "no timestamp column 'datetime'.*forecast.model.timestamp_column")


def test_unparseable_timestamps() -> None:
    frame = patient("p1", BG)
    frame["datetime"] = frame["datetime"].astype(str)
    frame.loc[3, "datetime"] = "not a date"
    _one_line_error(frame, "'datetime' has 1 missing or unparseable values.*'not a date'")


def test_empty_frame() -> None:
    _one_line_error(patient("p1", BG).iloc[:0], "frame is empty")


def test_non_numeric_column() -> None:
    frame = patient("p1", BG)
    frame["cob"] = frame["cob"].astype(object)
    frame.loc[2, "cob"] = "lots"
    _one_line_error(frame, "column 'cob' has 1 non-numeric values.*'lots'")


def test_target_zero_variance() -> None:
    _one_line_error(patient("p1", [6.0] * 10), "target 'bg_mM' has zero variance.*6.0")


def test_every_patient_dropped() -> None:
    bg = [5.0, np.nan, np.nan, np.nan, 7.0]  # 60 % missing
    data = {"a": patient("a", bg), "b": patient("b", bg)}
    msg = _one_line_error(data, "every patient was dropped")
    assert "max_nan_fraction" in msg


def test_dict_id_column_must_match_key() -> None:
    with pytest.raises(DataQualityError, match=r"patient 'a'.*'p_num' column holds \['b'\]"):
        clean({"a": patient("b", BG)})


@pytest.mark.parametrize(
    "kw",
    [
        {"imputation": "linear"},
        {"resolution_min": 0},
        {"max_nan_fraction": 1.5},
    ],
)
def test_bad_arguments(kw: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        clean(patient("p1", BG), **kw)


def test_target_among_inputs_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="also listed as an input"):
        check_and_clean(patient("p1", BG), target="bg_mM", inputs=["bg_mM", "cob"])


# ------------------------------------------------------------------ checks


def test_clean_frame_passes_through() -> None:
    frame = patient(7, BG)  # a numeric id becomes a string
    out, report = clean(frame)
    assert list(out.columns) == ["datetime", "p_num", "bg_mM", *INPUTS]
    assert out["p_num"].tolist() == ["7"] * 10
    assert out["bg_mM"].tolist() == BG
    assert all(out[c].dtype == np.float64 for c in ["bg_mM", *INPUTS])
    assert report.rows == 10 and report.patients == 1
    assert report.irregular == {} and report.dropped_patients == {}
    assert report.zero_variance == []
    assert report.imputed == {"bg_mM": 0, "cob": 0, "iob": 0, "dose_units": 0}
    assert report.nan_fraction == {"bg_mM": 0.0, "cob": 0.0, "iob": 0.0, "dose_units": 0.0}


def test_nan_fractions() -> None:
    bg = [5.0, np.nan, 6.0, 6.5, np.nan, 7.5, 8.0, 8.5, 9.0, 9.5]  # 2 of 10
    cob = [1.0, np.nan, np.nan, 2.0, np.nan, 3.0, np.nan, np.nan, 1.0, 0.0]  # 5 of 10
    out, report = clean(patient("p1", bg, cob=cob))
    assert report.nan_fraction == {"bg_mM": 0.2, "cob": 0.5, "iob": 0.0, "dose_units": 0.0}
    assert report.imputed["bg_mM"] == 2 and report.imputed["cob"] == 5
    assert not out.isna().any().any()


def test_infinities_become_nan_and_are_counted() -> None:
    iob = [0.0, np.inf, 1.0, 1.5, -np.inf, 2.5, 3.0, 3.5, 4.0, 4.5]
    out, report = clean(patient("p1", BG, iob=iob))
    assert report.infinite == {"bg_mM": 0, "cob": 0, "iob": 2, "dose_units": 0}
    assert report.nan_fraction["iob"] == 0.2
    assert report.imputed["iob"] == 2
    # forward fill: inf at 5 and 20 min carry the values before them
    assert out["iob"].tolist() == [0.0, 0.0, 1.0, 1.5, 1.5, 2.5, 3.0, 3.5, 4.0, 4.5]


def test_zero_variance_inputs_are_dropped() -> None:
    dose = [0.0] * 10  # constant
    cob = [2.0, np.nan, 2.0, 2.0, np.nan, 2.0, 2.0, 2.0, 2.0, 2.0]  # constant where present
    out, report = clean(patient("p1", BG, dose=dose, cob=cob))
    assert report.zero_variance == ["cob", "dose_units"]
    assert list(out.columns) == ["datetime", "p_num", "bg_mM", "iob"]
    assert set(report.imputed) == {"bg_mM", "iob"}


def test_input_constant_per_patient_but_not_overall_is_kept() -> None:
    data = {"a": patient("a", BG, dose=[0.0] * 10), "b": patient("b", BG, dose=[1.0] * 10)}
    out, report = clean(data)
    assert "dose_units" in out.columns and report.zero_variance == []


def test_irregular_sampling_is_filled_on_the_grid() -> None:
    # 0, 5, 10, then a 15-minute hole, 25, 30: 15 and 20 min are missing
    minutes = [0.0, 5.0, 10.0, 25.0, 30.0]
    bg = [5.0, 6.0, 7.0, 10.0, 11.0]
    out, report = clean(patient("p1", bg, minutes=minutes), max_nan_fraction=0.5)
    assert report.irregular == {"p1": 2}
    assert report.rows == 7
    assert out["datetime"].diff().dropna().eq(pd.Timedelta(minutes=5)).all()
    assert report.nan_fraction["bg_mM"] == pytest.approx(2 / 7)
    assert out["bg_mM"].tolist() == [5.0, 6.0, 7.0, 7.0, 7.0, 10.0, 11.0]


def test_off_grid_times_are_floored_and_duplicates_keep_the_first() -> None:
    # 00:01 and 00:06 floor to 00:00 and 00:05; 00:12 and 00:14 both floor to 00:10
    # (first kept); 00:15 is given twice (first kept)
    minutes = [1.0, 6.0, 12.0, 14.0, 15.0, 15.0]
    bg = [5.0, 6.0, 7.0, 99.0, 8.0, 98.0]
    out, report = clean(patient("p1", bg, minutes=minutes))
    assert out["datetime"].tolist() == [T0 + pd.Timedelta(minutes=m) for m in (0, 5, 10, 15)]
    assert out["bg_mM"].tolist() == [5.0, 6.0, 7.0, 8.0]
    assert report.duplicates == {"p1": 2}
    assert report.irregular == {}


def test_unsorted_rows_are_sorted_per_patient() -> None:
    frame = pd.concat([patient("b", BG), patient("a", BG)]).sample(frac=1, random_state=0)
    out, _ = clean(frame)
    assert out["p_num"].tolist() == ["a"] * 10 + ["b"] * 10
    assert out.groupby("p_num")["datetime"].apply(lambda s: s.is_monotonic_increasing).all()
    assert out["bg_mM"].tolist() == BG + BG


def test_patient_with_too_much_missing_target_is_dropped() -> None:
    bad = [5.0, np.nan, np.nan, 6.0, np.nan, 7.0, np.nan, 8.0, 9.0, 9.5]  # 4 of 10 missing
    edge = [5.0, np.nan, np.nan, 6.0, np.nan, 7.0, 7.5, 8.0, 9.0, 9.5]  # 3 of 10: not above 0.3
    data = {"bad": patient("bad", bad), "edge": patient("edge", edge), "ok": patient("ok", BG)}
    out, report = clean(data, max_nan_fraction=0.3)
    assert set(report.dropped_patients) == {"bad"}
    assert "40.0%" in report.dropped_patients["bad"]
    assert "max_nan_fraction 0.3" in report.dropped_patients["bad"]
    assert sorted(out["p_num"].unique()) == ["edge", "ok"]
    assert report.patients == 2 and report.rows == 20
    assert report.nan_fraction["bg_mM"] == pytest.approx(7 / 30)  # before dropping


# ------------------------------------------------------------------ imputation

# patient "a": target NaN at 0 and 10 min; cob NaN at 5 and 15 min
A_BG = [np.nan, 4.0, np.nan, 8.0, 9.0]
A_COB = [1.0, np.nan, 3.0, np.nan, 8.0]
# patient "b": target complete; cob never measured -> the global statistic
B_BG = [5.0, 6.0, 7.0, 8.0, 9.0]
B_COB = [np.nan] * 5


def _imputation_data() -> dict[str, pd.DataFrame]:
    return {"a": patient("a", A_BG, cob=A_COB), "b": patient("b", B_BG, cob=B_COB)}


@pytest.mark.parametrize(
    ("imputation", "a_bg", "a_cob", "b_cob"),
    [
        # carry forward; the leading NaN takes the first value; b's cob: global median of 1,3,8
        ("forward_fill", [4.0, 4.0, 4.0, 8.0, 9.0], [1.0, 1.0, 3.0, 3.0, 8.0], 3.0),
        # a's mean target (4+8+9)/3 = 7, mean cob (1+3+8)/3 = 4; b's cob: global mean 4
        ("mean", [7.0, 4.0, 7.0, 8.0, 9.0], [1.0, 4.0, 3.0, 4.0, 8.0], 4.0),
        # a's median target 8, median cob 3; b's cob: global median 3
        ("median", [8.0, 4.0, 8.0, 8.0, 9.0], [1.0, 3.0, 3.0, 3.0, 8.0], 3.0),
    ],
)
def test_imputation_strategies(
    imputation: str, a_bg: list[float], a_cob: list[float], b_cob: float
) -> None:
    out, report = clean(_imputation_data(), imputation=imputation, max_nan_fraction=0.5)
    a, b = out[out["p_num"] == "a"], out[out["p_num"] == "b"]
    assert a["bg_mM"].tolist() == pytest.approx(a_bg)
    assert a["cob"].tolist() == pytest.approx(a_cob)
    assert b["cob"].tolist() == pytest.approx([b_cob] * 5)
    assert b["bg_mM"].tolist() == B_BG
    assert report.imputed == {"bg_mM": 2, "cob": 7, "iob": 0, "dose_units": 0}
    assert not out.isna().any().any()


def test_imputation_does_not_leak_across_patients() -> None:
    # b starts with a NaN: forward fill must not carry a's last value into it
    data = {"a": patient("a", BG), "b": patient("b", [np.nan, 20.0, 21.0, 22.0])}
    out, _ = clean(data)
    assert out[out["p_num"] == "b"]["bg_mM"].tolist() == [20.0, 20.0, 21.0, 22.0]


# ------------------------------------------------------------------ input forms and report


def test_dict_input_equals_concatenated_frame() -> None:
    a = patient("a", A_BG, cob=A_COB)
    b = patient("b", B_BG, minutes=[0.0, 5.0, 20.0, 25.0, 30.0])
    from_dict = clean({"a": a.drop(columns="p_num"), "b": b}, max_nan_fraction=0.5)
    from_frame = clean(pd.concat([b, a], ignore_index=True), max_nan_fraction=0.5)
    pd.testing.assert_frame_equal(from_dict[0], from_frame[0])
    assert from_dict[1] == from_frame[1]


def test_to_frame_adds_the_key_as_id() -> None:
    frame = to_frame({1: patient("x", BG).drop(columns="p_num")}, "p_num")
    assert frame["p_num"].tolist() == ["1"] * 10


def test_report_is_json_ready() -> None:
    _, report = clean(_imputation_data(), max_nan_fraction=0.5)
    assert isinstance(report, QualityReport)
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["rows"] == 10 and payload["patients"] == 2
    assert payload["imputed"]["cob"] == 7
    assert set(payload) >= {
        "rows",
        "patients",
        "nan_fraction",
        "infinite",
        "zero_variance",
        "irregular",
        "dropped_patients",
        "imputed",
    }
