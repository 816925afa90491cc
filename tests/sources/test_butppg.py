from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import wfdb

from tests.fixtures.files import swap_header_counts
from ttmbio.errors import CaseError, SourceError
from ttmbio.sources.datasets.butppg import check_header, load_butppg_record, scan_butppg_dir


def test_scan_lists_annotated_records_with_subjects(butppg_dir: Path) -> None:
    index = scan_butppg_dir(butppg_dir)
    assert [c.case_id for c in index.cases] == [
        "100001",
        "100002",
        "101001",
        "101002",
        "102001",
        "102002",
    ]
    assert [c.subject_id for c in index.cases][:3] == ["100", "100", "101"]
    assert index.cases[1].attrs["quality"] == 1 and index.cases[1].attrs["Gender"] == "F"
    assert index.skipped == [] and index.notes == []


def test_load_record_gives_native_rates_and_shapes(butppg_dir: Path) -> None:
    rec = load_butppg_record(butppg_dir, "100001")
    rates = {name: (s.fs, len(s.data)) for name, s in rec.signals.items()}
    assert rates == {
        "PPG": (30.0, 300),
        "ECG": (1000.0, 10_000),
        "ACC_X": (100.0, 1000),
        "ACC_Y": (100.0, 1000),
        "ACC_Z": (100.0, 1000),
    }
    assert abs(float(np.mean(rec.signals["ACC_Z"].data)) - 1.0) < 0.01


def test_swapped_header_makes_wfdb_misread_and_is_repaired(butppg_dir: Path) -> None:
    hea = butppg_dir / "100001" / "100001_PPG.hea"
    swap_header_counts(hea)
    with pytest.raises(IndexError):  # the defect as plain wfdb sees it
        wfdb.rdrecord(str(hea.with_suffix("")))
    check = check_header(hea)
    assert (check.n_sig, check.n_samples) == (1, 300) and check.fixed_text is not None
    rec = load_butppg_record(butppg_dir, "100001")
    assert len(rec.signals["PPG"].data) == 300
    reference = load_butppg_record(butppg_dir, "100002").signals["PPG"].data
    np.testing.assert_allclose(rec.signals["PPG"].data, reference, atol=1e-3)
    index = scan_butppg_dir(butppg_dir)
    assert len(index.cases) == 6
    assert index.notes == [f"{hea}: swapped signal/sample counts repaired"]


def test_inconsistent_header_skips_the_record_with_its_file_named(butppg_dir: Path) -> None:
    hea = butppg_dir / "101001" / "101001_ECG.hea"
    lines = hea.read_text().splitlines()
    fields = lines[0].split()
    fields[3] = "1"
    hea.write_text("\n".join([" ".join(fields), *lines[1:]]) + "\n")
    index = scan_butppg_dir(butppg_dir)
    assert [s.case_id for s in index.skipped] == ["101001"]
    assert str(hea) in index.skipped[0].reason
    assert len(index.cases) == 5
    with pytest.raises(CaseError, match=r"101001_ECG\.hea"):
        load_butppg_record(butppg_dir, "101001")


def test_record_without_acc_is_kept_and_flagged(butppg_dir: Path) -> None:
    for f in (butppg_dir / "102002").glob("102002_ACC.*"):
        f.unlink()
    index = scan_butppg_dir(butppg_dir)
    flags = {c.case_id: c.attrs["has_acc"] for c in index.cases}
    assert flags["102002"] is False and flags["102001"] is True
    assert set(load_butppg_record(butppg_dir, "102002", with_acc=False).signals) == {"PPG", "ECG"}


def test_missing_annotations_or_folder_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        scan_butppg_dir(tmp_path / "absent")
    tmp_path.mkdir(exist_ok=True)
    with pytest.raises(SourceError, match=r"quality-hr-ann\.csv"):
        scan_butppg_dir(tmp_path)


def test_a_missing_data_file_is_a_case_error_naming_the_header(butppg_dir: Path) -> None:
    (butppg_dir / "100001" / "100001_ECG.dat").unlink()
    with pytest.raises(CaseError, match=r"100001_ECG\.hea: unreadable WFDB record \("):
        load_butppg_record(butppg_dir, "100001")
