from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from ttmbio.errors import ConfigError, SourceError
from ttmbio.windows.dataset import WindowDataset
from ttmbio.windows.stats import channel_stats, read_stats
from ttmbio.windows.store import StoreWriter, WindowStore

CHANNELS = ["PPG", "ECG"]


def write_store(path: Path, sizes: list[int], shard: int = 8, chunk: int = 4) -> np.ndarray:
    writer = StoreWriter(
        path,
        CHANNELS,
        16,
        125.0,
        {"case_id": str, "start_s": "float64"},
        shard,
        chunk,
        attrs={"dataset": "d", "split": "train"},
    )
    rng = np.random.default_rng(0)
    blocks = []
    for i, n in enumerate(sizes):
        block = rng.normal(size=(n, 2, 16)).astype(np.float32)
        writer.append(
            block,
            {"case_id": np.full(n, f"c{i}").astype(str), "start_s": np.arange(n, dtype=np.float64)},
        )
        blocks.append(block)
    assert writer.close() == sum(sizes)
    return np.concatenate(blocks) if blocks else np.zeros((0, 2, 16), np.float32)


def test_round_trip_through_plain_zarr(tmp_path: Path) -> None:
    expected = write_store(tmp_path / "s.zarr", [3, 0, 7, 5, 9])
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="r")
    np.testing.assert_array_equal(group["signals"][:], expected)
    assert group["signals"].attrs["channels"] == CHANNELS
    assert group.attrs["n_windows"] == 24 and group.attrs["format"] == "ttmbio.windows/1"
    assert list(group["case_id"][:5]) == ["c0", "c0", "c0", "c2", "c2"]
    assert group["signals"].shards == (8, 2, 16) and group["signals"].chunks == (4, 2, 16)


def test_reader_selects_channels_by_name(tmp_path: Path) -> None:
    expected = write_store(tmp_path / "s.zarr", [10])
    store = WindowStore(tmp_path / "s.zarr")
    idx = store.channel_index(["ECG"])
    np.testing.assert_array_equal(store.read(2, 5, idx), expected[2:5, [1]])
    with pytest.raises(ConfigError, match=r"not \['ACC_X'\]"):
        store.channel_index(["ACC_X"])
    with pytest.raises(ConfigError, match="no per-window field 'quality'"):
        store.meta("quality")


def test_empty_store_and_unfinished_store(tmp_path: Path) -> None:
    write_store(tmp_path / "empty.zarr", [])
    assert len(WindowStore(tmp_path / "empty.zarr")) == 0
    with pytest.raises(SourceError, match="no windows"):
        channel_stats(WindowStore(tmp_path / "empty.zarr"))
    zarr.open_group(str(tmp_path / "half.zarr"), mode="w")  # never closed by a writer
    with pytest.raises(SourceError, match=r"not a ttmbio\.windows/1 store"):
        WindowStore(tmp_path / "half.zarr")


def test_a_damaged_chunk_is_a_one_line_source_error_naming_the_store(tmp_path: Path) -> None:
    """Chunks carry a CRC32C: bytes changed in place are caught, not decoded into numbers."""
    write_store(tmp_path / "s.zarr", [16])
    shard = sorted((tmp_path / "s.zarr/signals").rglob("c/*/*/*"))[0]
    data = bytearray(shard.read_bytes())
    data[40:60] = b"\xab" * 20
    shard.write_bytes(bytes(data))
    store = WindowStore(tmp_path / "s.zarr")
    with pytest.raises(SourceError, match=r"s\.zarr/signals: corrupt window store \(ValueError"):
        store.check()
    with pytest.raises(SourceError, match=r"`dvc repro -f windows` \(or `ttmbio windows`\)$"):
        store.read(0, 4)
    (tmp_path / "s.zarr/case_id/zarr.json").write_text("{")
    with pytest.raises(SourceError, match=r"s\.zarr/case_id: corrupt window store \(JSONDecode"):
        store.meta("case_id")
    (tmp_path / "s.zarr/zarr.json").write_text("{")
    with pytest.raises(SourceError, match=r"s\.zarr: corrupt window store \(JSONDecodeError"):
        WindowStore(tmp_path / "s.zarr")


def test_unreadable_stats_and_windows_of_another_length_are_one_line(tmp_path: Path) -> None:
    write_store(tmp_path / "train.zarr", [8])
    (tmp_path / "stats.json").write_text("{")
    with pytest.raises(SourceError, match=r"stats\.json: not JSON \(.*\(or `ttmbio windows`\)$"):
        read_stats(tmp_path)
    with pytest.raises(ConfigError, match=r"windows of 16 samples, but the model reads 32"):
        WindowDataset(tmp_path / "train.zarr", CHANNELS, normalize=False, length=32)
