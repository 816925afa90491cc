"""Runs of True in boolean arrays: the one helper behind gaps, flatlines, clipping and events."""

from __future__ import annotations

import numpy as np


def _boundaries(padded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) stops of the True runs of a 1-D boolean array that begins and
    ends with False, in its own indices: one comparison pass plus O(#runs), no int copies
    (the flatline and clipping gates call this on every window)."""
    change = np.flatnonzero(padded[1:] != padded[:-1]) + 1  # alternating starts / stops
    return change[0::2], change[1::2]


def true_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, stops)`` of the maximal runs of True in a 1-D array (stop exclusive)."""
    starts, stops = _boundaries(np.concatenate(([False], np.asarray(mask, dtype=bool), [False])))
    return starts - 1, stops - 1


def row_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(row, length)`` of every run of True in a boolean ``[n, m]`` array.

    Rows are padded with False on both sides and flattened, so runs never cross rows and the
    cost is one pass plus O(#runs) rather than a loop over rows.
    """
    n, m = mask.shape
    padded = np.zeros((n, m + 2), dtype=bool)
    padded[:, 1:-1] = mask
    starts, stops = _boundaries(padded.ravel())
    return starts // (m + 2), stops - starts
