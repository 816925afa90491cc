"""Pretraining throughput reading windows from the zarr store versus from memory.

The same :func:`ttmbio.ssl.pretrain.train_epoch` runs over the same batches twice per round:
once with the store-backed :class:`WindowDataset` (a fresh one, cold block cache) and once with
the windows already normalised in a tensor. Rounds interleave the two so a noisy neighbour on a
shared machine slows both alike; the ratio is the median of the per-round ratios.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ttmbio.params import Params
from ttmbio.ssl.pretrain import DATASET, build_pretrainer, train_epoch
from ttmbio.training.distributed import DistInfo
from ttmbio.windows.dataset import WindowDataset


class InMemoryWindows(Dataset[dict[str, torch.Tensor]]):
    """A store's normalised windows held in one tensor, batch-compatible with WindowDataset."""

    def __init__(self, source: WindowDataset) -> None:
        self.store = source.store
        self.block_windows = source.block_windows  # make_loader batches by read block
        self.x = source.__getitems__(list(range(len(source))))["x"]

    def __len__(self) -> int:
        return len(self.x)

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))
        return {"x": self.x[idx], "index": idx}


def training_rates(
    params: Params, windows: Path, repeats: int, device: torch.device | None = None
) -> dict[str, Any]:
    """Windows/s of one pretraining epoch from the store and from memory, and their ratio."""
    device = device or torch.device("cpu")
    t = build_pretrainer(params, windows, DistInfo(0, 1, device))
    store = windows / DATASET / "train.zarr"
    memory = InMemoryWindows(t.train)
    n = len(memory)
    zarr_rates, memory_rates = [], []
    for r in range(repeats + 1):  # round 0 warms up
        t.train = WindowDataset(store, params.model.channels)
        start = time.perf_counter()
        train_epoch(t, r, show_progress=False)
        zarr_rate = n / (time.perf_counter() - start)
        t.train = memory  # type: ignore[assignment]
        start = time.perf_counter()
        train_epoch(t, r, show_progress=False)
        memory_rate = n / (time.perf_counter() - start)
        if r:
            zarr_rates.append(zarr_rate)
            memory_rates.append(memory_rate)
    return {
        "device": str(device),
        "windows_per_epoch": n,
        "zarr_windows_per_s": statistics.median(zarr_rates),
        "memory_windows_per_s": statistics.median(memory_rates),
        "zarr_vs_memory": statistics.median(
            z / m for z, m in zip(zarr_rates, memory_rates, strict=True)
        ),
        "repeats": repeats,
    }
