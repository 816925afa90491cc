"""The windows stage's library entry point on a tiny synthetic dataset."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import zarr

from tests.fixtures.files import standard_tracks, write_vital
from tests.fixtures.pipeline import build_tiny_pipeline, no_progress
from ttmbio.errors import ConfigError
from ttmbio.params import Params
from ttmbio.splits.schema import SplitFile
from ttmbio.windows import build
from ttmbio.windows.build import build_windows
from ttmbio.windows.stats import channel_stats
from ttmbio.windows.store import WindowStore


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Params, dict, dict]:
    tmp = tmp_path_factory.mktemp("windows")
    params, doc, metrics, report = build_tiny_pipeline(tmp)
    return tmp, params, metrics, {"doc": doc, "report": report}


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_stores_open_with_plain_zarr_and_hold_named_channels_and_labels(built) -> None:
    tmp, _params, metrics, _ = built
    group = zarr.open_group(str(tmp / "windows/vitaldb/train.zarr"), mode="r")
    assert group["signals"].attrs["channels"] == ["PPG", "ECG", "ABP"]
    n = group["signals"].shape[0]
    assert n == metrics["vitaldb"]["train"]["windows"] > 0
    for field in (
        "case_id",
        "subject_id",
        "start_s",
        "hypotension",
        "map_mmhg",
        "hr_bpm",
        "ecg_sqi",
        "ppg_tsqi",
        "ppg_ssqi",
        "case_age",
        "case_sex",
        "case_asa",
    ):
        assert group[field].shape == (n,), field
    assert set(np.unique(group["hypotension"][:])) <= {0, 1}
    but = zarr.open_group(str(tmp / "windows/butppg/test.zarr"), mode="r")
    assert but["signals"].attrs["channels"] == ["ACC_X", "ACC_Y", "ACC_Z", "PPG", "ECG"]
    assert set(np.unique(but["case_quality"][:])) <= {0.0, 1.0}
    assert but["signals"].shape[1:] == (5, 1024)


def test_every_split_and_subject_traceable_to_the_split_file(built) -> None:
    tmp, _, _, extra = built
    rows = {r.case_id: r for r in extra["doc"].datasets["vitaldb"].cases}
    for split in ("train", "val", "test"):
        store = WindowStore(tmp / f"windows/vitaldb/{split}.zarr")
        for case, subject in zip(store.meta("case_id"), store.meta("subject_id"), strict=True):
            assert rows[case].split == split and rows[case].subject_id == subject


def test_normalisation_stats_come_from_train_only(built) -> None:
    tmp = built[0]
    stats = json.loads((tmp / "windows/vitaldb/stats.json").read_text())
    assert stats["split"] == "train"
    computed = channel_stats(WindowStore(tmp / "windows/vitaldb/train.zarr"))
    assert stats["channels"] == {c: s.model_dump() for c, s in computed.items()}
    assert stats["channels"]["ABP"]["mean"] > 50  # mmHg, filtered but not high-passed


def test_stores_are_byte_identical_for_one_and_two_workers(
    built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers spill each case's kept windows to a file; each is removed once written."""
    tmp, params, _, extra = built
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    @contextmanager
    def kept_folder(prefix: str) -> Iterator[str]:  # as TemporaryDirectory, never removed
        yield str(scratch)

    monkeypatch.setattr(build.tempfile, "TemporaryDirectory", kept_folder)
    two = params.model_copy(update={"windows": params.windows.model_copy(update={"workers": 2})})
    build_windows(two, extra["doc"], tmp_path / "windows", no_progress)
    assert digest(tmp_path / "windows") == digest(tmp / "windows")
    assert list(scratch.iterdir()) == []


def test_case_missing_a_track_or_all_nan_is_skipped_and_reported(built, tmp_path: Path) -> None:
    _tmp, params, metrics, extra = built
    doc = extra["doc"].model_dump(mode="json")
    rows = doc["datasets"]["vitaldb"]["cases"]
    train = [r for r in rows if r["split"] == "train"]
    tracks = standard_tracks(seconds=60.0)
    del tracks["SNUADC/ART"]
    write_vital(tmp_path / "no_art.vital", tracks, seconds=60.0)
    tracks = standard_tracks(seconds=60.0)
    tracks["SNUADC/PLETH"][:] = np.nan
    write_vital(tmp_path / "nan_ppg.vital", tracks, seconds=60.0)
    for name in ("no_art", "nan_ppg"):
        rows.append({**train[0], "case_id": name, "file": str(tmp_path / f"{name}.vital")})
    doc = SplitFile.model_validate(doc)
    again, report = build_windows(params, doc, tmp_path / "windows", no_progress)
    assert again["vitaldb"]["train"]["cases_skipped"] == 2
    assert again["vitaldb"]["train"]["windows"] == metrics["vitaldb"]["train"]["windows"]
    reasons = {s["case_id"]: s["reason"] for s in report["skipped"]["vitaldb"]}
    assert "no_art.vital: missing track(s) for ['ABP']" in reasons["no_art"]
    assert "nan_ppg.vital: track SNUADC/PLETH (PPG) has no finite samples" in reasons["nan_ppg"]


def test_no_train_cases_is_refused_before_anything_is_written(built, tmp_path: Path) -> None:
    _tmp, params, _metrics, extra = built
    doc = extra["doc"].model_dump(mode="json")
    for row in doc["datasets"]["butppg"]["cases"]:
        row["split"] = "val" if row["split"] == "train" else row["split"]
    with pytest.raises(ConfigError, match=r"no butppg case to the train split \(splits\.ratios"):
        build_windows(params, SplitFile.model_validate(doc), tmp_path / "windows", no_progress)
    assert not (tmp_path / "windows").exists()
