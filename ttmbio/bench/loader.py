"""Windows per second from a zarr store to normalised batches, per loader worker, no model.

A GPU trains the default encoder at tens of thousands of windows/s, so the loader, not the
model, may bound GPU-scale pretraining. This measures the pretraining input path alone --
block-aligned shuffled batches (:class:`~ttmbio.windows.dataset.BlockBatchSampler`), shard
reads, LZ4 decoding, channel selection and normalisation (:class:`WindowDataset`) -- through a
torch DataLoader with 0, 1 and 2 worker processes. The store is written for the bench in a
temporary folder and removed: the default train windows, repeated to ``n`` windows, in the
default shard layout, so it decodes as the real store does.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ttmbio.params import Params
from ttmbio.windows.dataset import WindowDataset, make_loader
from ttmbio.windows.store import StoreWriter, WindowStore


def write_repeated_store(source: Path, folder: Path, n: int, params: Params) -> Path:
    """``folder/train.zarr``: ``source``'s windows cycled to ``n``, with its ``stats.json``."""
    src = WindowStore(source)
    windows = src.read(0, len(src))
    out = folder / "train.zarr"
    wp = params.windows
    writer = StoreWriter(
        out,
        src.channels,
        src.length,
        src.fs,
        {"source_index": "int64"},
        wp.shard_windows,
        wp.chunk_windows,
        {"dataset": "bench", "split": "train"},
    )
    for start in range(0, n, wp.shard_windows):
        rows = np.arange(start, min(start + wp.shard_windows, n)) % len(windows)
        writer.append(windows[rows], {"source_index": rows})
    writer.close()
    shutil.copy(source.parent / "stats.json", folder / "stats.json")
    return out


def epoch_rate(dataset: WindowDataset, batch_size: int, workers: int, seed: int) -> float:
    """Windows/s over one shuffled epoch, timed from the first batch (workers started)."""
    batches = iter(make_loader(dataset, batch_size, shuffle=True, seed=seed, workers=workers))
    next(batches)
    start, count = time.perf_counter(), 0
    for batch in batches:
        count += len(batch["x"])
    return count / (time.perf_counter() - start)


def loader_rates(
    params: Params, source: Path, n: int, workers: list[int], repeats: int, batch_size: int = 256
) -> dict[str, Any]:
    """Median windows/s per worker count on a store of ``n`` windows made from ``source``."""
    out: dict[str, Any] = {
        "windows": n,
        "batch_size": batch_size,
        "channels": params.model.channels,
    }
    with tempfile.TemporaryDirectory(prefix="ttmbio-loader-") as tmp:
        start = time.perf_counter()
        store = write_repeated_store(source, Path(tmp), n, params)
        out["write_s"] = time.perf_counter() - start
        out["store_mb"] = sum(f.stat().st_size for f in store.rglob("*") if f.is_file()) / 2**20
        dataset = WindowDataset(store, params.model.channels)
        for w in workers:
            rates = [epoch_rate(dataset, batch_size, w, seed) for seed in range(repeats)]
            out[f"workers_{w}"] = statistics.median(rates)
    return out
