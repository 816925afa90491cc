"""ChunkedFiltFilt gives scipy's sosfiltfilt bytes (per finite run) for any range."""

from __future__ import annotations

import numpy as np
import pytest

from ttmbio.signal.chunked import ChunkedFiltFilt
from ttmbio.signal.filters import FilterSpec, apply, design, padlen

SOS = design(FilterSpec("butter", 4, 0.5, 8.0), 125.0)
EDGE = padlen(SOS)


def _signal(n: int, gaps: list[tuple[int, int]], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = 40 * np.sin(t / 9.0) + np.cumsum(rng.normal(size=n)) + 80.0
    for a, b in gaps:
        x[a:b] = np.nan
    return x.astype(np.float32).astype(np.float64)


def _check(x: np.ndarray, grid: int, chunk: int, ranges: list[tuple[int, int]]) -> None:
    expected = apply(SOS, x)  # sosfiltfilt of each finite run, NaN where too short
    reads: list[tuple[int, int]] = []

    def read(lo: int, hi: int) -> np.ndarray:
        reads.append((lo, hi))
        return x[lo:hi].copy()

    chunked = ChunkedFiltFilt(SOS, read, len(x), grid, chunk)
    assert max(hi - lo for lo, hi in reads) <= chunk + EDGE + 1  # never the whole signal
    for lo, hi in ranges:
        start, stop = chunked.span(lo, hi)
        got = chunked.filtered(lo, hi, x[start:stop], start)
        assert got.dtype == np.float32
        assert got.tobytes() == expected[lo:hi].tobytes(), (lo, hi)


def test_a_gap_free_signal_in_ranges_across_every_border() -> None:
    x = _signal(10_000, [])
    _check(x, 250, 1000, [(0, 10_000), (0, 1), (999, 1001), (2499, 7501), (9_999, 10_000)])


@pytest.mark.parametrize("grid", [100, 250])
def test_gaps_on_and_beside_chunk_borders_and_runs_of_exactly_padlen(grid: int) -> None:
    chunk = 4 * grid
    gaps = [
        (chunk - 1, chunk + 3),  # gap across a chunk border
        (2 * chunk, 2 * chunk + 5),  # gap starting on one
        (3 * chunk - 7, 3 * chunk),  # gap ending on one: the next run starts on the border
        (3 * chunk + EDGE, 3 * chunk + EDGE + 2),  # a run of exactly padlen samples (NaN)
        (3 * chunk + 2 * EDGE + 3, 3 * chunk + 2 * EDGE + 9),  # one of padlen + 1 (filtered)
        (5 * chunk - EDGE, 5 * chunk - EDGE + 1),  # a run whose left pad needs the next chunk
    ]
    x = _signal(6 * chunk + 37, gaps, seed=grid)
    expected = apply(SOS, x)
    assert np.isnan(expected[3 * chunk : 3 * chunk + EDGE]).all()
    assert np.isfinite(expected[3 * chunk + EDGE + 2 : 3 * chunk + 2 * EDGE + 3]).all()
    n = len(x)
    _check(x, grid, chunk, [(0, n), (chunk - 10, 3 * chunk + 60), (5 * chunk, n), (n - 1, n)])


def test_a_signal_that_ends_in_a_gap_or_a_short_run() -> None:
    _check(_signal(3_000, [(2_900, 3_000)]), 200, 800, [(0, 3_000), (2_850, 3_000)])
    _check(_signal(3_000, [(2_980, 2_990)]), 200, 800, [(0, 3_000)])


def test_chunks_must_hold_whole_grid_steps() -> None:
    with pytest.raises(ValueError, match="multiple of grid"):
        ChunkedFiltFilt(SOS, lambda lo, hi: np.zeros(hi - lo), 1000, 300, 1000)
