"""The synth stage's files, opened with the reference libraries (vitaldb, wfdb)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import vitaldb
import wfdb

from ttmbio.params import SynthParams
from ttmbio.synth.dataset import synthesize

SMALL = SynthParams.model_validate(
    {
        "seed": 3,
        "workers": 1,
        "vitaldb": {"n_cases": 5, "n_subjects": 3, "duration_min": [2.0, 3.0], "bis_fraction": 0.5},
        "butppg": {"n_subjects": 3, "records_per_subject": 4, "good_fraction": 0.25},
    }
)
WAVES = ["SNUADC/ECG_II", "SNUADC/PLETH", "SNUADC/ART"]


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synth") / "raw"
    return out, synthesize(SMALL, out)


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_vital_files_hold_500_hz_waveforms_in_plausible_ranges(raw: tuple[Path, dict]) -> None:
    out, summary = raw
    table = pd.read_csv(out / "vitaldb/cases.csv")
    assert len(list((out / "vitaldb").glob("*.vital"))) == 5 == summary["vitaldb"]["cases"]
    for caseid, duration in zip(table["caseid"], table["caseend"], strict=True):
        vf = vitaldb.VitalFile(str(out / f"vitaldb/{caseid}.vital"))
        assert {*WAVES, "Solar8000/HR", "Solar8000/ART_MBP"} <= set(vf.get_track_names())
        assert all(vf.find_track(t).srate == 500 for t in WAVES)
        x = vf.to_numpy(WAVES, 1 / 500)
        assert abs(len(x) / 500 - duration) <= 1.0 and 120 <= len(x) / 500 <= 180
        ecg, pleth, art = (np.nanpercentile(x[:, i], [5, 50, 99]) for i in range(3))
        assert ecg[0] > -1.5 and 0.3 < ecg[2] < 3.0
        assert pleth[0] >= 0 and pleth[2] <= 100
        assert art[0] > 25 and 50 < art[1] < 120 and art[2] < 200
        hr = vf.to_numpy(["Solar8000/HR"], 2.0)[:, 0]
        assert np.nanmin(hr) >= 40 and np.nanmax(hr) <= 150


def test_summary_reports_pathology_and_label_noise(raw: tuple[Path, dict]) -> None:
    v, b = raw[1]["vitaldb"], raw[1]["butppg"]
    path = v["pathology"]
    for kind in ("pvc", "pac", "af", "map_dip"):
        assert 0 <= path[f"cases_with_{kind}"] <= v["cases"]
        assert (path[f"cases_with_{kind}"] > 0) == (v["events"].get(kind, 0) > 0)
    assert 0 <= path["cases_low_perfusion"] <= v["cases"] and 0 <= path["af_fraction"] < 1
    assert 0 <= path["episodes_with_precursor"] <= 3 * v["cases"]  # at most 3 episodes a case
    assert b["label_flips"] == 0  # round(0.07 * 12 / 2) = 0 flips per class
    assert 0 <= b["moving_good"] <= 1 and 0 <= b["moving_poor"] <= 1


def test_clinical_table_has_vitaldb_columns_and_repeat_subjects(raw: tuple[Path, dict]) -> None:
    table = pd.read_csv(raw[0] / "vitaldb/cases.csv")
    assert {
        "caseid",
        "subjectid",
        "age",
        "sex",
        "bmi",
        "asa",
        "optype",
        "department",
        "casestart",
        "caseend",
    } <= set(table.columns)
    assert table["subjectid"].nunique() == 3 and len(table) == 5
    assert table["bmi"].between(15, 45).all() and table["age"].between(18, 90).all()


def test_butppg_records_open_with_wfdb_at_the_published_rates(raw: tuple[Path, dict]) -> None:
    folder = raw[0] / "butppg"
    ann = pd.read_csv(folder / "quality-hr-ann.csv", dtype={"ID": str})
    info = pd.read_csv(folder / "subject-info.csv", dtype={"ID": str})
    assert list(ann.columns) == ["ID", "Quality", "HR"] and len(ann) == 12
    assert ann["Quality"].sum() == 3  # good_fraction 0.25 of 12
    assert list(info["ID"]) == list(ann["ID"]) and ann["ID"].str.fullmatch(r"\d{6}").all()
    for part, fs, n, names in (
        ("PPG", 30, 300, ["PPG"]),
        ("ECG", 1000, 10_000, ["ECG"]),
        ("ACC", 100, 1000, ["ACC_X", "ACC_Y", "ACC_Z"]),
    ):
        record = wfdb.rdrecord(str(folder / "100001" / f"100001_{part}"))
        assert (record.fs, record.sig_len, record.sig_name) == (fs, n, names)


def test_same_seed_gives_byte_identical_files_whatever_the_workers(
    raw: tuple[Path, dict], tmp_path: Path
) -> None:
    again = synthesize(SMALL.model_copy(update={"workers": 2}), tmp_path / "raw")
    assert digest(tmp_path / "raw") == digest(raw[0])
    assert again == raw[1]


def test_another_seed_gives_other_signals(raw: tuple[Path, dict], tmp_path: Path) -> None:
    synthesize(SMALL.model_copy(update={"seed": 4}), tmp_path / "raw")
    ours = vitaldb.VitalFile(str(tmp_path / "raw/vitaldb/1.vital")).to_numpy(WAVES[:1], 1 / 500)
    theirs = vitaldb.VitalFile(str(raw[0] / "vitaldb/1.vital")).to_numpy(WAVES[:1], 1 / 500)
    n = min(len(ours), len(theirs))
    assert not np.allclose(ours[:n], theirs[:n], equal_nan=True)
