"""A recording's kept windows, written to a temporary file block by block.

The windows stage would otherwise hold every kept window of a recording until the recording
is done (44 MB for a 12-hour case at the defaults, twice while the blocks are joined) and
hand it to the store in one piece, which zarr then encodes shard after shard with all of it
in memory. Spilled, a recording's windows cost one block's worth of memory; the stage reads
them back a shard at a time, and a worker process hands back a file name, not the windows.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ttmbio.sources.vital_stream import spill_error

_DTYPE = np.dtype(np.float32)


@dataclass
class SpilledWindows:
    """``[n, C, T]`` float32 windows in a raw file under a folder the caller removes."""

    path: Path
    shape: tuple[int, int]  # (C, T) of one window
    n: int = 0

    @classmethod
    def create(cls, folder: Path, shape: tuple[int, int]) -> SpilledWindows:
        fd, name = tempfile.mkstemp(prefix="windows-", suffix=".f32", dir=folder)
        os.close(fd)
        return cls(Path(name), shape)

    def append(self, windows: np.ndarray) -> None:
        if windows.shape[1:] != self.shape:
            raise ValueError(f"windows of shape {windows.shape[1:]} != {self.shape}")
        try:
            with open(self.path, "ab") as f:
                f.write(np.ascontiguousarray(windows, dtype=_DTYPE).tobytes())
        except OSError as err:
            raise spill_error(self.path.parent, "a recording's kept windows", err) from err
        self.n += len(windows)

    def __len__(self) -> int:
        return self.n

    def chunks(self, size: int) -> Iterator[np.ndarray]:
        """The windows in order, ``size`` at a time."""
        per_window = int(np.prod(self.shape))
        with open(self.path, "rb") as f:
            for start in range(0, self.n, size):
                count = min(size, self.n - start)
                part = np.fromfile(f, dtype=_DTYPE, count=count * per_window)
                yield part.reshape(count, *self.shape)

    def __array__(self, dtype: Any = None, /, *, copy: Any = None) -> np.ndarray:
        whole = np.fromfile(self.path, dtype=_DTYPE).reshape(self.n, *self.shape)
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def window_chunks(windows: np.ndarray | SpilledWindows, size: int) -> Iterator[np.ndarray]:
    """Windows held in memory or spilled, ``size`` at a time, in order."""
    if isinstance(windows, SpilledWindows):
        yield from windows.chunks(size)
    else:
        for start in range(0, len(windows), size):
            yield windows[start : start + size]
