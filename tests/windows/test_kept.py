"""Kept windows spilled to a file come back in order, a chunk at a time, and reach the store so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ttmbio.errors import TtmbioError
from ttmbio.sources.vital_stream import SpillError
from ttmbio.windows import build
from ttmbio.windows.kept import SpilledWindows, window_chunks
from ttmbio.windows.process import WindowBlock


def _windows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3, 16)).astype(np.float32)


def test_appended_parts_come_back_in_order_in_chunks(tmp_path: Path) -> None:
    parts = [_windows(n, i) for i, n in enumerate([5, 0, 12, 1])]
    spilled = SpilledWindows.create(tmp_path, (3, 16))
    for part in parts:
        spilled.append(part)
    whole = np.concatenate(parts)
    assert len(spilled) == 18
    assert np.asarray(spilled).tobytes() == whole.tobytes()
    chunks = list(spilled.chunks(7))
    assert [len(c) for c in chunks] == [7, 7, 4]
    assert np.concatenate(chunks).tobytes() == whole.tobytes()
    assert [len(c) for c in window_chunks(whole, 7)] == [7, 7, 4]
    spilled.remove()
    assert not spilled.path.exists()


def test_a_case_reaches_the_store_a_shard_at_a_time(tmp_path: Path) -> None:
    windows = SpilledWindows.create(tmp_path, (3, 16))
    windows.append(_windows(10, 1))
    meta = {"start_s": np.arange(10, dtype=np.float64)}
    block = WindowBlock(signals=windows, meta=meta)
    got: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []

    class Writer:
        def append(self, signals: np.ndarray, meta: dict[str, np.ndarray]) -> None:
            got.append((signals, meta))

    build._append_case(Writer(), block, meta, 4)  # type: ignore[arg-type]
    assert [len(s) for s, _ in got] == [4, 4, 2]
    assert np.concatenate([m["start_s"] for _, m in got]).tolist() == list(range(10))
    assert np.concatenate([s for s, _ in got]).tobytes() == np.asarray(windows).tobytes()


def test_a_spill_that_cannot_be_written_is_a_one_line_stage_error(tmp_path: Path) -> None:
    spilled = SpilledWindows.create(tmp_path, (3, 16))
    spilled.path.unlink()
    tmp_path.rmdir()  # as if the temporary folder had gone (or filled up)
    with pytest.raises(SpillError, match="cannot write a recording's kept windows") as err:
        spilled.append(_windows(2, 0))
    assert isinstance(err.value, TtmbioError)  # the stages print it as one line and stop
