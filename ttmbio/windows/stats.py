"""The train-split normalisation statistics: ``<dataset>/stats.json`` beside the stores.

Computed once by the windows stage over every train window, read by every later user of the
windows (datasets, fine-tuning's saved recipe, prediction). :class:`TrainStats` is the file's
schema, versioned by its ``format`` tag; a file of another version is a one-line error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from ttmbio.atomic import atomic_write_json
from ttmbio.errors import SourceError
from ttmbio.versioned import read_versioned
from ttmbio.windows.store import REBUILD, WindowStore

FORMAT = "ttmbio.window-stats/1"
STATS_FILE = "stats.json"


class ChannelStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mean: float
    std: float


class TrainStats(BaseModel):
    """Mean and std of each channel over every sample of every train window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["ttmbio.window-stats/1"] = FORMAT
    split: Literal["train"] = "train"
    channels: dict[str, ChannelStats]


def channel_stats(store: WindowStore, step: int = 1024) -> dict[str, ChannelStats]:
    """Per-channel mean and std over every sample of every window (float64 accumulators)."""
    c = len(store.channels)
    total, total_sq, count = np.zeros(c), np.zeros(c), 0
    for start in range(0, len(store), step):
        block = store.read(start, min(start + step, len(store))).astype(np.float64)
        total += block.sum(axis=(0, 2))
        total_sq += (block**2).sum(axis=(0, 2))
        count += block.shape[0] * block.shape[2]
    if count == 0:
        raise SourceError(
            f"{store.path}: no windows to compute normalisation statistics "
            "from; the train split must keep at least one window"
        )
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    return {
        ch: ChannelStats(mean=float(m), std=float(max(s, 1e-8)))
        for ch, m, s in zip(store.channels, mean, std, strict=True)
    }


def write_stats(folder: Path, channels: dict[str, ChannelStats]) -> None:
    """``stats.json`` in a dataset's windows folder (sorted keys)."""
    atomic_write_json(Path(folder) / STATS_FILE, TrainStats(channels=channels).model_dump())


def read_stats(folder: Path) -> dict[str, dict[str, float]]:
    """Each channel's ``{"mean", "std"}``, or one line naming the file and how to rebuild it.

    Files from before the format tag (same schema) still read."""
    stats = read_versioned(
        Path(folder) / STATS_FILE,
        TrainStats,
        FORMAT,
        "statistics",
        "ttmbio windows",
        missing="normalisation statistics not found; run `ttmbio windows`",
        untagged_is_current=True,
        fix=REBUILD,  # a damaged output DVC believes current: like the stores' own errors
    )
    return {name: s.model_dump() for name, s in stats.channels.items()}
