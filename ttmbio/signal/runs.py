"""Runs of True in boolean arrays: the one helper behind gaps, flatlines, clipping and events."""

from __future__ import annotations

import numpy as np


def true_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, stops)`` of the maximal runs of True in a 1-D array (stop exclusive)."""
    edges = np.diff(np.asarray(mask, dtype=bool).astype(np.int8), prepend=0, append=0)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def row_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(row, length)`` of every run of True in a boolean ``[n, m]`` array.

    Rows are padded with False on both sides and flattened, so runs never cross rows and the
    cost is one pass plus O(#runs) rather than a loop over rows.
    """
    n, m = mask.shape
    padded = np.zeros((n, m + 2), dtype=bool)
    padded[:, 1:-1] = mask
    starts, stops = true_runs(padded.ravel())
    return starts // (m + 2), stops - starts
