"""The bench's long cases repeat a real case's waves, and its loader store cycles real windows."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

import numpy as np

from tests.fixtures.files import standard_tracks, write_vital
from tests.windows.test_store import write_store
from ttmbio.bench.loader import write_repeated_store
from ttmbio.bench.long_case import write_long_case
from ttmbio.bench.windowing import own_peak_rss_bytes
from ttmbio.params import Params
from ttmbio.sources.vital_dir import load_vital_recording
from ttmbio.windows.store import WindowStore

ALIASES = {"ECG": ["SNUADC/ECG_II"], "PPG": ["SNUADC/PLETH"], "ABP": ["SNUADC/ART"]}


def test_a_long_case_is_the_source_waves_repeated_to_its_length(tmp_path: Path) -> None:
    tracks = standard_tracks(seconds=20.0)
    write_vital(tmp_path / "1.vital", tracks)
    write_long_case(tmp_path / "1.vital", tmp_path / "long.vital", 0.02, ALIASES, ["PPG", "ECG"])
    found = {"PPG": "SNUADC/PLETH", "ECG": "SNUADC/ECG_II"}
    rec = load_vital_recording(tmp_path / "long.vital", "long", "s", found)
    for channel, track in found.items():
        data = rec.signals[channel].data
        assert len(data) == 36_000  # 72 s at 500 Hz
        np.testing.assert_array_equal(data, np.resize(tracks[track], 36_000).astype(np.float32))


def test_the_loader_store_cycles_the_source_windows(tmp_path: Path) -> None:
    source = write_store(tmp_path / "src" / "train.zarr", [5, 6])  # 11 windows
    (tmp_path / "src" / "stats.json").write_text("{}")
    store = write_repeated_store(tmp_path / "src" / "train.zarr", tmp_path / "out", 30, Params())
    got = WindowStore(store)
    assert len(got) == 30 and (tmp_path / "out" / "stats.json").exists()
    np.testing.assert_array_equal(got.read(0, 30), source[np.arange(30) % 11])


def _child_peak(queue: Any) -> None:
    queue.put(own_peak_rss_bytes())


def test_a_spawned_process_peak_leaves_out_its_parents() -> None:
    """Linux carries a parent's high-water mark across exec into ``ru_maxrss``: a bench that
    has just written a 12-hour case would measure itself, not the windowing child."""
    held = np.ones(600 * 2**20 // 8)  # 600 MB resident in this process
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child_peak, args=(queue,))
    proc.start()
    child = queue.get(timeout=120)
    proc.join(timeout=60)
    assert held.sum() > 0
    assert own_peak_rss_bytes() > 600 * 2**20 > child
