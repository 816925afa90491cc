from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.windows.test_store import CHANNELS, write_store
from ttmbio.errors import SourceError
from ttmbio.windows.stats import channel_stats, read_stats, write_stats
from ttmbio.windows.store import WindowStore


def test_stats_match_numpy(tmp_path: Path) -> None:
    expected = write_store(tmp_path / "s.zarr", [13, 6])
    stats = channel_stats(WindowStore(tmp_path / "s.zarr"), step=5)
    for i, channel in enumerate(CHANNELS):
        assert stats[channel].mean == pytest.approx(float(expected[:, i].mean()), abs=1e-6)
        assert stats[channel].std == pytest.approx(float(expected[:, i].std()), rel=1e-5)


def test_stats_file_round_trips_and_is_versioned(tmp_path: Path) -> None:
    write_store(tmp_path / "train.zarr", [8])
    stats = channel_stats(WindowStore(tmp_path / "train.zarr"))
    write_stats(tmp_path, stats)
    assert read_stats(tmp_path) == {c: s.model_dump() for c, s in stats.items()}
    doc = json.loads((tmp_path / "stats.json").read_text())
    assert doc["format"] == "ttmbio.window-stats/1" and doc["split"] == "train"
    del doc["format"]  # written before the tag: same schema, still read
    (tmp_path / "stats.json").write_text(json.dumps(doc))
    assert read_stats(tmp_path)["PPG"] == stats["PPG"].model_dump()
    doc["format"] = "ttmbio.window-stats/0"
    (tmp_path / "stats.json").write_text(json.dumps(doc))
    with pytest.raises(SourceError, match=r"statistics format 'ttmbio.window-stats/0'"):
        read_stats(tmp_path)
    doc["format"] = "ttmbio.window-stats/1"
    doc["channels"]["PPG"] = {"mean": 0.0}
    (tmp_path / "stats.json").write_text(json.dumps(doc))
    with pytest.raises(SourceError, match=r"not a valid statistics \(channels\.PPG\.std: Field"):
        read_stats(tmp_path)
    (tmp_path / "stats.json").unlink()
    with pytest.raises(SourceError, match="normalisation statistics not found; run `ttmbio"):
        read_stats(tmp_path)
