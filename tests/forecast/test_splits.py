"""Patient-level forecast splits and the in-time adaptation cutoff."""

from __future__ import annotations

import pandas as pd
import pytest

from ttmbio.errors import ConfigError
from ttmbio.forecast.splits import adaptation_cutoff, before, cohort_of, split_patients

PATIENTS = [f"{c}_{i:03d}" for c in ("adolescent", "adult", "child") for i in range(1, 11)]
RATIOS = {"train": 0.6, "val": 0.2, "test": 0.2}


def test_splits_are_patient_disjoint_sized_by_ratio_and_mix_cohorts() -> None:
    splits = split_patients(PATIENTS, RATIOS, seed=42)
    assert {k: len(v) for k, v in splits.items()} == {"train": 18, "val": 6, "test": 6}
    members = [p for v in splits.values() for p in v]
    assert sorted(members) == sorted(PATIENTS)
    for split in splits.values():
        assert {cohort_of(p) for p in split} == {"adolescent", "adult", "child"}
    assert split_patients(PATIENTS, RATIOS, seed=42) == splits
    assert split_patients(PATIENTS, RATIOS, seed=7) != splits


def test_too_few_patients_for_a_split_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="without patients"):
        split_patients(PATIENTS[:2], RATIOS, seed=0)


def test_cutoff_and_rows_before_it() -> None:
    times = pd.date_range("2024-01-01", periods=10, freq="5min")
    frame = pd.concat(
        [
            pd.DataFrame({"datetime": times, "p_num": "a", "bg_mM": range(10)}),
            pd.DataFrame({"datetime": times[:4], "p_num": "b", "bg_mM": range(4)}),
        ]
    )
    cutoff = adaptation_cutoff(frame, "p_num", "datetime", 0.5)
    assert cutoff == {"a": times[4], "b": times[1]}
    early = before(frame, "p_num", "datetime", cutoff)
    assert early.groupby("p_num").size().to_dict() == {"a": 5, "b": 2}
