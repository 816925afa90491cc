"""Per-recording problems through the real ``splits`` and ``windows`` commands.

One raw folder holds the tiny synthetic data plus one broken recording of each kind; the
stages must succeed with the rest, skip each broken one with a ``warning:`` naming its file,
and count the skip in their metrics (``skipped`` in metrics/splits.json, ``cases_skipped``
per split in metrics/windows.json).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.signal import resample_poly

from tests.fixtures.files import swap_header_counts
from tests.fixtures.pipeline import tiny_params
from tests.reliability.helpers import (
    Outcome,
    assert_ok,
    read_case,
    read_json,
    set_header_fs,
    ttmbio,
    warning_about,
    write_case,
)
from ttmbio.params import load_params
from ttmbio.windows.store import WindowStore

SOURCE = "2.vital"  # a synthetic case without gaps: every broken case is a copy of it
GAP_S = (40.0, 80.0)  # PPG sensor off for 40 s


@dataclass
class Run:
    ws: Path
    vital: Path
    butppg: Path
    records: dict[str, str]  # problem -> BUT-PPG record id
    splits: Outcome
    windows: Outcome

    def splits_metrics(self) -> dict:
        return read_json(self.ws / "metrics/splits.json")

    def windows_metrics(self) -> dict:
        return read_json(self.ws / "metrics/windows.json")

    def skipped_by_windows(self, dataset: str) -> int:
        return sum(s["cases_skipped"] for s in self.windows_metrics()[dataset].values())

    def split_of(self, dataset: str, case_id: str) -> str:
        rows = read_json(self.ws / "data/splits.json")["datasets"][dataset]["cases"]
        return next(r["split"] for r in rows if r["case_id"] == case_id)

    def windows_of(self, dataset: str, case_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(start_s, signals) of a case's stored windows."""
        store = WindowStore(
            self.ws / f"data/windows/{dataset}/{self.split_of(dataset, case_id)}.zarr"
        )
        mine = store.meta("case_id") == case_id
        return store.meta("start_s")[mine], store.read(0, len(store))[mine]


def _break_vitaldb(folder: Path) -> None:
    source = folder / SOURCE
    tracks = read_case(source)
    seconds = len(tracks["SNUADC/PLETH"]) / 500
    data = source.read_bytes()
    (folder / "truncated.vital").write_bytes(data[: len(data) // 2])
    (folder / "not_gzip.vital").write_text("this is not a vital file\n")
    write_case(
        folder / "no_art.vital", {k: v for k, v in tracks.items() if k != "SNUADC/ART"}, seconds, {}
    )
    nan = dict(tracks, **{"SNUADC/PLETH": np.full_like(tracks["SNUADC/PLETH"], np.nan)})
    write_case(folder / "nan_ppg.vital", nan, seconds, {})
    flat = dict(tracks, **{"SNUADC/PLETH": np.full_like(tracks["SNUADC/PLETH"], 50.0)})
    write_case(folder / "flat_ppg.vital", flat, seconds, {})
    slow_ppg = resample_poly(
        tracks["SNUADC/PLETH"], 1, 5, padtype="line"
    )  # recorded at 100 Hz, not 500
    write_case(
        folder / "ppg_100hz.vital",
        dict(tracks, **{"SNUADC/PLETH": slow_ppg}),
        seconds,
        {"SNUADC/PLETH": 100.0},
    )
    slow_ecg = resample_poly(
        tracks["SNUADC/ECG_II"], 1, 10, padtype="line"
    )  # 50 Hz: below its 40 Hz filter
    write_case(
        folder / "ecg_50hz.vital",
        dict(tracks, **{"SNUADC/ECG_II": slow_ecg}),
        seconds,
        {"SNUADC/ECG_II": 50.0},
    )
    gap = tracks["SNUADC/PLETH"].copy()
    gap[int(GAP_S[0] * 500) : int(GAP_S[1] * 500)] = np.nan
    write_case(folder / "gap.vital", dict(tracks, **{"SNUADC/PLETH": gap}), seconds, {})


def _break_butppg(folder: Path) -> dict[str, str]:
    ids = sorted(pd.read_csv(folder / "quality-hr-ann.csv", dtype={"ID": str})["ID"])
    records = {"swapped": ids[0], "no_acc": ids[1], "wrong_fs": ids[2]}
    swap_header_counts(folder / records["swapped"] / f"{records['swapped']}_PPG.hea")
    for f in (folder / records["no_acc"]).glob(f"{records['no_acc']}_ACC.*"):
        f.unlink()
    set_header_fs(folder / records["wrong_fs"] / f"{records['wrong_fs']}_PPG.hea", 60)  # not 30
    return records


@pytest.fixture(scope="module")
def run(raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    ws = tmp_path_factory.mktemp("recordings")
    shutil.copytree(raw, ws / "raw")
    tiny_params(ws)
    _break_vitaldb(ws / "raw/vitaldb")
    records = _break_butppg(ws / "raw/butppg")
    splits = ttmbio(ws, "splits")
    windows = ttmbio(ws, "windows")
    return Run(ws, ws / "raw/vitaldb", ws / "raw/butppg", records, splits, windows)


def test_both_stages_succeed_with_the_other_recordings(run: Run) -> None:
    assert_ok(run.splits)
    assert_ok(run.windows)
    for dataset in ("vitaldb", "butppg"):
        counts = run.windows_metrics()[dataset]
        assert all(counts[s]["windows"] > 0 for s in ("train", "val", "test")), counts


def test_splits_skips_and_counts_unreadable_or_incomplete_vital_files(run: Run) -> None:
    """Inputs 1-3: truncated, not gzip, missing a required track."""
    expected = {
        "truncated": "truncated .vital file (gzip stream ends early); re-download or remove it",
        "not_gzip": "not a readable .vital file (",
        "no_art": "missing required track(s) (ABP: SNUADC/ART)",
    }
    for name, reason in expected.items():
        warning_about(run.splits, f"{run.vital / name}.vital: ", reason)
    assert run.splits_metrics()["vitaldb"]["skipped"] == 3
    skipped = read_json(run.ws / "data/splits.json")["datasets"]["vitaldb"]["skipped"]
    assert {s["case_id"] for s in skipped} == set(expected)
    assert not any(name in w for w in run.windows.warnings for name in expected)


def test_windows_skips_and_counts_recordings_no_window_of_which_can_be_right(run: Run) -> None:
    """Inputs 4, 5 and 6 (implausible rate): all-NaN, flat, 50 Hz ECG."""
    expected = {
        "nan_ppg": "track SNUADC/PLETH (PPG) has no finite samples",
        "flat_ppg": "channel PPG is flat (every sample is 50); check the sensor",
        "ecg_50hz": "channel ECG is sampled at 50 Hz, too slow for its 40 Hz filter "
        "(windows.filters.ECG)",
    }
    for name, reason in expected.items():
        line = warning_about(run.windows, f"{run.vital / name}.vital", reason)
        assert line.startswith(f"warning: vitaldb: skipped {run.vital / name}.vital: ")
    assert run.skipped_by_windows("vitaldb") == 3
    stored = {c for s in ("train", "val", "test") for c in _case_ids(run, "vitaldb", s)}
    assert not stored & set(expected)


def test_a_track_at_100_hz_is_resampled_like_its_500_hz_original(run: Run) -> None:
    """Input 6: the .vital stores each track's rate; a 100 Hz PPG is read as such."""
    assert not any("ppg_100hz" in w for w in run.splits.warnings + run.windows.warnings)
    starts, slow = run.windows_of("vitaldb", "ppg_100hz")
    ref_starts, ref = run.windows_of("vitaldb", SOURCE.removesuffix(".vital"))
    common = np.intersect1d(starts, ref_starts)
    assert len(common) >= 0.8 * len(ref_starts) > 0
    for start in common:
        a, b = slow[starts == start][0], ref[ref_starts == start][0]
        np.testing.assert_array_equal(a[1:], b[1:])  # ECG and ABP: the same 500 Hz tracks
        assert np.corrcoef(a[0], b[0])[0, 1] > 0.99  # PPG: resampled from 100 Hz


def test_a_butppg_header_with_a_wrong_rate_is_skipped(run: Run) -> None:
    """Input 6 (BUT-PPG): PPG header says 60 Hz for 300 samples of a 10 s record."""
    record = run.butppg / run.records["wrong_fs"]
    warning_about(
        run.windows,
        f"butppg: skipped {record}: channels disagree in duration (",
        "PPG 5.0 s (300 at 60 Hz)",
        "ECG 10.0 s (10000 at 1000 Hz)",
        "a sampling rate in the recording's header is probably wrong",
    )


def test_long_nan_gaps_reject_the_windows_they_touch_and_keep_the_rest(run: Run) -> None:
    """Input 7: no stored window overlaps the gap; the rejections are counted under ``gap``."""
    assert not any("gap.vital" in w for w in run.splits.warnings + run.windows.warnings)
    starts, _ = run.windows_of("vitaldb", "gap")
    ref_starts, _ = run.windows_of("vitaldb", SOURCE.removesuffix(".vital"))
    length = 1024 / 125
    assert len(starts) and all(s + length <= GAP_S[0] or s >= GAP_S[1] for s in starts)
    away = [s for s in ref_starts if s + length <= GAP_S[0] - 4 or s >= GAP_S[1] + 4]
    assert len(np.intersect1d(starts, away)) >= 0.8 * len(away)
    stride = load_params(run.ws / "params.yaml").windows.vitaldb.stride
    candidates = np.arange(0, 137.0 - length + 1e-9, stride / 125)
    touching = sum(s < GAP_S[1] and s + length > GAP_S[0] for s in candidates)
    split = run.split_of("vitaldb", "gap")
    assert run.windows_metrics()["vitaldb"][split]["rejected"]["gap"] >= touching


def test_a_butppg_header_with_swapped_counts_is_repaired_and_used(run: Run) -> None:
    """Input 8: the record is kept (a warning says it was repaired) and has windows."""
    record = run.records["swapped"]
    warning_about(
        run.splits, f"{run.butppg / record / record}_PPG.hea: swapped signal/sample counts repaired"
    )
    assert run.splits_metrics()["butppg"]["skipped"] == 0
    starts, _ = run.windows_of("butppg", record)
    assert len(starts) == 2


def test_a_butppg_record_without_acc_is_skipped_by_windows(run: Run) -> None:
    """Input 9: splits keeps it (ACC is optional there); windows needs ACC, skips it."""
    record = run.records["no_acc"]
    warning_about(
        run.windows,
        f"butppg: skipped {run.butppg / record}: record has no ACC file ({record}_ACC.hea)",
        "drop ACC_X/ACC_Y/ACC_Z there",
    )
    assert run.skipped_by_windows("butppg") == 2  # no ACC, wrong rate
    assert record not in {c for s in ("train", "val", "test") for c in _case_ids(run, "butppg", s)}


def _case_ids(run: Run, dataset: str, split: str) -> set[str]:
    return set(WindowStore(run.ws / f"data/windows/{dataset}/{split}.zarr").meta("case_id"))
