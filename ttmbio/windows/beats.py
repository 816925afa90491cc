"""Beats of a block's candidate windows, each window's from the segment holding its start.

Detectors run on a segment's signal plus :data:`~ttmbio.windows.blocks.DETECTOR_CONTEXT_S`
each side and one window past its end, so every window sees the beats of one detection run;
that run does not depend on the block size (see :mod:`ttmbio.windows.blocks`). A recording
no longer than one segment is one detection run over the whole recording.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ttmbio.signal.peaks import peaks_per_window
from ttmbio.windows.blocks import DETECTOR_CONTEXT_S, Block, BlockPlan

Detector = Callable[[np.ndarray, float], np.ndarray]


class SegmentBeats:
    """The detection runs of one block: ``(lo, hi, window starts)`` in block-local samples."""

    def __init__(self, plan: BlockPlan, block: Block, starts: np.ndarray, length: int, fs: float):
        self.length, self.fs = length, fs
        context = round(DETECTOR_CONTEXT_S * fs)
        segment = starts // plan.segment
        self.runs: list[tuple[int, int, np.ndarray]] = []
        for i in np.unique(segment):
            lo = max(0, int(i) * plan.segment - context)
            hi = min(plan.n, (int(i) + 1) * plan.segment + length + context)
            local = starts[segment == i] - block.ext_start
            self.runs.append((lo - block.ext_start, hi - block.ext_start, local))

    def detect(self, x: np.ndarray, detector: Detector) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per run: the detector's peaks (block-local, sorted) and the run's window starts."""
        return [
            (np.asarray(detector(x[lo:hi], self.fs), dtype=np.int64) + lo, local)
            for lo, hi, local in self.runs
        ]

    def per_window(self, x: np.ndarray, detector: Detector) -> list[np.ndarray]:
        """Each window's peaks relative to its start, in window order."""
        return self.windows_of(self.detect(x, detector))

    def windows_of(self, found: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for peaks, local in found:
            out += peaks_per_window(peaks, local, self.length)
        return out
