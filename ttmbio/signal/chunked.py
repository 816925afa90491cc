"""``sosfiltfilt`` of every finite run of a long signal, read a range at a time, same bytes.

Why: a zero-phase IIR filter is recursive in both directions, so a block of a recording
filtered on its own differs from the whole recording filtered -- not by much once the
edges settle, but float64 state that differs by an ulp never quite converges, and a float32
sample rounds the other way now and then. Filtering blocks exactly needs each block's filter
state. Two sweeps get it with memory bounded by one chunk: the forward sweep runs the
forward filter through every run (NaN gaps split runs, as :func:`ttmbio.signal.filters.apply`
does) and keeps its state at every ``grid`` samples; the backward sweep, chunks in reverse,
recomputes the forward output from those states and keeps the backward filter's state at the
same points. A range's output is then the forward filter from the state at or before it and
the backward filter from the state at or after it: the very operations ``sosfiltfilt``
performs, in the same order, so the same float64 values.

Each run is padded as ``sosfiltfilt`` pads (odd extension of ``padlen`` samples, initial
state ``sosfilt_zi`` times the first padded sample); runs not longer than ``padlen`` are NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from scipy.signal import sosfilt, sosfilt_zi

from ttmbio.signal.filters import padlen
from ttmbio.signal.runs import true_runs

Reader = Callable[[int, int], np.ndarray]  # samples [lo, hi) of the signal, float64, NaN gaps


@dataclass
class _Run:
    start: int
    stop: int = -1  # exclusive; -1 while the forward sweep is inside the run
    forward: dict[int, np.ndarray] = field(default_factory=dict)  # state before sample p
    backward: dict[int, np.ndarray] = field(default_factory=dict)  # state before p - 1, backwards
    tail: np.ndarray = field(default_factory=lambda: np.zeros(0))  # last padlen + 1 samples

    def points(self) -> list[int]:
        """Where states are kept: the run's ends and the grid points inside it."""
        return sorted({*self.forward, self.stop})


class ChunkedFiltFilt:
    """Zero-phase filtering of ``[0, n)`` by ``sos``, a range at a time (see module doc)."""

    def __init__(self, sos: np.ndarray, read: Reader, n: int, grid: int, chunk: int) -> None:
        if chunk % grid:
            raise ValueError(f"chunk ({chunk}) must be a multiple of grid ({grid})")
        self.sos, self.n, self.grid = np.asarray(sos, dtype=np.float64), n, grid
        self.edge = padlen(self.sos)
        self.zi = sosfilt_zi(self.sos)
        self.runs: list[_Run] = []
        self._forward_sweep(read, chunk)
        self._backward_sweep(read, chunk)

    # -- sweeps ------------------------------------------------------------------------------

    def _forward_sweep(self, read: Reader, chunk: int) -> None:
        edge, run = self.edge, None
        z = np.zeros(0)
        for c in range(0, self.n, chunk):
            d = min(c + chunk, self.n)
            x = read(c, min(self.n, d + edge + 1))  # look ahead: a run's left pad
            starts, stops = true_runs(np.isfinite(x[: d - c]))
            if run is not None and (len(starts) == 0 or starts[0] > 0):
                self._close(run, c, z)  # the run ended with the previous chunk
                run = None
            for s, t in zip(starts + c, stops + c, strict=True):
                if s > c or run is None:
                    run, z = self._open(x, c, s)
                if run is not None:
                    z = self._advance(run, x[s - c : t - c], s, z)
                    if t < d or t == self.n:
                        self._close(run, t, z)
                        run = None

    def _open(self, x: np.ndarray, c: int, s: int) -> tuple[_Run | None, np.ndarray]:
        head = x[s - c : s - c + self.edge + 1]
        if len(head) <= self.edge or not np.isfinite(head).all():
            return None, np.zeros(0)  # not longer than padlen: NaN, as sosfiltfilt refuses it
        left = 2 * head[0] - head[self.edge : 0 : -1]
        _, z = sosfilt(self.sos, left, zi=self.zi * left[0])
        run = _Run(start=s)
        run.forward[s] = z
        self.runs.append(run)
        return run, z

    def _advance(self, run: _Run, x: np.ndarray, s: int, z: np.ndarray) -> np.ndarray:
        """Forward filter through ``x`` (samples from ``s``), keeping the state at grid points."""
        t, grid = s + len(x), self.grid
        bounds = [s, *range((s // grid + 1) * grid, t, grid), t]
        for lo, hi in pairwise(bounds):
            _, z = sosfilt(self.sos, x[lo - s : hi - s], zi=z)
            if hi % grid == 0:
                run.forward[hi] = z
        run.tail = np.concatenate((run.tail, x[-(self.edge + 1) :]))[-(self.edge + 1) :]
        return z

    def _close(self, run: _Run, t: int, z: np.ndarray) -> None:
        run.stop = t
        run.forward.pop(t, None)
        tail = run.tail
        right = 2 * tail[-1] - tail[-2 : -(self.edge + 2) : -1]
        y, _ = sosfilt(self.sos, right, zi=z)
        _, zb = sosfilt(self.sos, y[::-1], zi=self.zi * y[-1])
        run.backward[t] = zb
        run.tail = np.zeros(0)

    def _backward_sweep(self, read: Reader, chunk: int) -> None:
        for c in reversed(range(0, self.n, chunk)):
            d = min(c + chunk, self.n)
            inside = [r for r in self.runs if r.start < d and r.stop > c]
            if not inside:
                continue
            x = read(c, d)
            for run in inside:
                points = run.points()
                end = min(d, run.stop)  # a kept point: the run's end or a grid point
                zb = run.backward[end]
                pieces = [p for p in points if c <= p < end] + [end]
                for lo, hi in reversed(list(pairwise(pieces))):
                    y, _ = sosfilt(self.sos, x[lo - c : hi - c], zi=run.forward[lo])
                    _, zb = sosfilt(self.sos, y[::-1], zi=zb)
                    run.backward[lo] = zb

    # -- output ------------------------------------------------------------------------------

    def span(self, lo: int, hi: int) -> tuple[int, int]:
        """The samples :meth:`filtered` needs read to give ``[lo, hi)``."""
        return max(0, lo - self.grid), min(self.n, hi + self.grid)

    def filtered(self, lo: int, hi: int, x: np.ndarray, x_start: int) -> np.ndarray:
        """Output ``[lo, hi)`` (float32) from the signal ``x`` read from ``x_start``, covering
        :meth:`span`."""
        out = np.full(hi - lo, np.nan, dtype=np.float32)
        for run in self.runs:
            a, b = max(run.start, lo), min(run.stop, hi)
            if a >= b:
                continue
            points = run.points()
            p0 = max(p for p in points if p <= a)
            p1 = min(p for p in points if p >= b)
            y, _ = sosfilt(self.sos, x[p0 - x_start : p1 - x_start], zi=run.forward[p0])
            z, _ = sosfilt(self.sos, y[::-1], zi=run.backward[p1])
            out[a - lo : b - lo] = z[::-1][a - p0 : b - p0]
        return out
