from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import vitaldb

from tests.fixtures.files import DTSTART, make_vital_dir, sine, standard_tracks, write_vital
from ttmbio.errors import CaseError, SourceError
from ttmbio.params import VitalDBData
from ttmbio.sources.base import resolve_channels
from ttmbio.sources.vital_dir import (
    check_vital_file,
    load_vital_recording,
    open_vital,
    recording_from_vital,
    scan_vital_dir,
)

CFG = VitalDBData()


def scan(folder: Path, clinical: Path | None = None):
    return scan_vital_dir(folder, CFG.tracks, CFG.required_channels, clinical)


def test_scan_indexes_cases_with_subjects_from_clinical_table(vital_dir: Path) -> None:
    index = scan(vital_dir, vital_dir / "cases.csv")
    assert [c.case_id for c in index.cases] == ["1", "2", "3", "4", "5", "6"]
    assert index.cases[0].subject_id == "100"
    assert index.cases[0].attrs["asa"] == 1
    assert "SNUADC/PLETH" in index.cases[0].tracks
    assert index.skipped == []


def test_cases_sort_numerically(tmp_path: Path) -> None:
    make_vital_dir(tmp_path, n_cases=11)
    assert [c.case_id for c in scan(tmp_path).cases][:3] == ["1", "2", "3"]
    assert scan(tmp_path).cases[-1].case_id == "11"


def test_missing_track_truncated_and_non_gzip_files_are_skipped_and_named(
    vital_dir: Path,
) -> None:
    tracks = standard_tracks()
    del tracks["SNUADC/ART"]
    write_vital(vital_dir / "7.vital", tracks)
    data = (vital_dir / "1.vital").read_bytes()
    (vital_dir / "8.vital").write_bytes(data[: len(data) // 2])
    (vital_dir / "9.vital").write_text("not a vital file")
    index = scan(vital_dir)
    assert len(index.cases) == 6
    reasons = {s.case_id: s.reason for s in index.skipped}
    assert set(reasons) == {"7", "8", "9"}
    assert reasons["7"].startswith(str(vital_dir / "7.vital")) and "ABP" in reasons["7"]
    assert "truncated" in reasons["8"] and str(vital_dir / "8.vital") in reasons["8"]
    assert "9.vital" in reasons["9"]
    assert all("\n" not in r for r in reasons.values())


def test_truncated_file_is_refused_although_vitaldb_reads_it(vital_dir: Path) -> None:
    data = (vital_dir / "1.vital").read_bytes()
    bad = vital_dir / "bad.vital"
    bad.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(CaseError, match="truncated"):
        check_vital_file(bad)


def test_empty_or_missing_folder_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"no \.vital files"):
        scan(tmp_path)
    with pytest.raises(SourceError, match="not found"):
        scan(tmp_path / "absent")


def test_track_aliases_pick_the_first_present(tmp_path: Path) -> None:
    write_vital(tmp_path / "1.vital", standard_tracks(pleth="Intellivue/PLETH"))
    aliases = {**CFG.tracks, "PPG": ["SNUADC/PLETH", "Intellivue/PLETH"]}
    index = scan_vital_dir(tmp_path, aliases, CFG.required_channels, None)
    assert len(index.cases) == 1 and index.cases[0].subject_id == "case-1"
    found, missing = resolve_channels(index.cases[0].tracks, aliases, ["PPG", "ECG"])
    assert found == {"PPG": "Intellivue/PLETH", "ECG": "SNUADC/ECG_II"} and missing == []
    # without the alias the same file is skipped for its missing PPG
    assert len(scan(tmp_path).skipped) == 1


def test_load_recording_gives_500_hz_waveforms(vital_dir: Path) -> None:
    tracks = {"ECG": "SNUADC/ECG_II", "PPG": "SNUADC/PLETH", "ABP": "SNUADC/ART"}
    rec = load_vital_recording(vital_dir / "1.vital", "1", "100", tracks)
    expected = standard_tracks()
    assert set(rec.signals) == {"ECG", "PPG", "ABP"}
    for channel, track in tracks.items():
        sig = rec.signals[channel]
        assert sig.fs == 500.0 and sig.data.dtype == np.float32
        assert len(sig.data) == 10_000
        np.testing.assert_allclose(sig.data, expected[track], atol=1e-6)


def test_all_nan_track_is_a_case_error_naming_the_file(tmp_path: Path) -> None:
    tracks = standard_tracks()
    tracks["SNUADC/ART"] = np.full_like(tracks["SNUADC/ART"], np.nan)
    write_vital(tmp_path / "1.vital", tracks)
    with pytest.raises(CaseError, match=r"1\.vital: track SNUADC/ART \(ABP\) has no finite"):
        load_vital_recording(tmp_path / "1.vital", "1", "1", {"ABP": "SNUADC/ART"})


def test_each_track_is_read_at_the_rate_it_was_recorded_at(tmp_path: Path) -> None:
    """vitaldb would repeat a 100 Hz track's samples into a 500 Hz staircase."""
    ppg = sine(2000, 100.0, 1.2, 20.0, 50.0)
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = DTSTART, DTSTART + 20.0
    vf.add_track("SNUADC/PLETH", [{"dt": DTSTART, "val": ppg}], srate=100.0)
    vf.add_track("SNUADC/ECG_II", [{"dt": DTSTART, "val": sine(10_000, 500.0, 1.2)}], srate=500.0)
    vf.add_track("Solar8000/HR", [{"dt": DTSTART + t, "val": 72.0} for t in range(0, 20, 2)])
    vf.to_vital(str(tmp_path / "1.vital"))
    rec = load_vital_recording(
        tmp_path / "1.vital", "1", "1", {"PPG": "SNUADC/PLETH", "ECG": "SNUADC/ECG_II"}
    )
    assert (rec.signals["PPG"].fs, rec.signals["ECG"].fs) == (100.0, 500.0)
    np.testing.assert_allclose(rec.signals["PPG"].data, ppg, atol=1e-6)
    with pytest.raises(CaseError, match=r"track Solar8000/HR \(ECG\) is a numeric track"):
        load_vital_recording(tmp_path / "1.vital", "1", "1", {"ECG": "Solar8000/HR"})


def test_an_unused_alias_track_does_not_change_the_recording(tmp_path: Path) -> None:
    """vitaldb sizes every track by the span of all tracks parsed: a longer second ECG track
    that is only an alias must not pad the chosen one with NaN."""
    ecg = sine(10_000, 500.0, 1.2)
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dtend = DTSTART, DTSTART + 20.0
    vf.add_track("SNUADC/ECG_II", [{"dt": DTSTART, "val": ecg}], srate=500.0)
    vf.add_track("SNUADC/ECG_V5", [{"dt": DTSTART, "val": sine(15_000, 500.0, 1.2)}], srate=500.0)
    vf.to_vital(str(tmp_path / "1.vital"))
    parsed = open_vital(tmp_path / "1.vital", ["SNUADC/ECG_II", "SNUADC/ECG_V5"])
    assert set(parsed.track_names()) == {"SNUADC/ECG_II", "SNUADC/ECG_V5"}
    rec = recording_from_vital(parsed, tmp_path / "1.vital", "1", "1", {"ECG": "SNUADC/ECG_II"})
    np.testing.assert_allclose(rec.signals["ECG"].data, ecg, atol=1e-6)  # 10,000, no NaN tail
