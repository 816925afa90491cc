"""Where a recording's blocks and peak-detection segments lie, and their signals.

A multi-hour recording is not resampled and filtered whole: the windows stage works through it
in blocks of ``windows.block_s`` seconds, each extended on both sides by a margin that covers
what the block's outputs look at (the peak detectors' context, one window, the label horizon,
the per-second MAP span). The block's signal is the whole recording's, bit for bit: each
channel is resampled from its native samples with the FIR's support on both sides and
starting where its polyphase pattern starts, and filtered by
:class:`~ttmbio.signal.chunked.ChunkedFiltFilt`, which gives ``sosfiltfilt``'s bytes a range at
a time. So blocks give the windows stage exactly the output of whole-recording processing
(``block_s: null``), while resampling, filtering and gating work on one block's samples at a
time. The native samples come a range at a time from the reader's temporary file
(:mod:`ttmbio.sources.vital_stream`) and the kept windows go to one
(:mod:`ttmbio.windows.kept`), so what still grows with the recording's length is small: a few
filter states per minute, a few numbers per candidate window and the reader's index of the
file's records (48 bytes each). A recording of one block is processed whole, as before.

Peaks are detected per *segment* of ``windows.peak_segment_s`` (blocks hold whole segments):
a window takes its beats from the segment holding its start, detected on that segment plus
context. Segments make the detectors' recording-wide statistics (neurokit2's mean QRS length,
Elgendi's mean squared PPG) local, so a window's beats do not depend on how long the
recording around it is, nor on the block size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ttmbio.errors import CaseError
from ttmbio.params import DatasetWindows, FilterParams, WindowsParams
from ttmbio.signal.chunked import ChunkedFiltFilt
from ttmbio.signal.filters import FilterSpec, apply, design
from ttmbio.signal.resample import fir_half_length, rational_factors, resample
from ttmbio.sources.base import Recording, Signal

DETECTOR_CONTEXT_S = 10.0  # signal each side of a segment its detectors see (> their averages)
_MAP_SPAN_S = 4.0  # must cover ttmbio.windows.labels' per-second MAP span
_STATE_GRID_S = 60.0  # the filters' states are kept this often (a block reads <= this extra)


def filter_spec(p: FilterParams) -> FilterSpec:
    low, high = p.band
    return FilterSpec(
        kind=p.kind, order=p.order, low_hz=low, high_hz=high, stopband_db=p.stopband_db
    )


@lru_cache(maxsize=64)
def sos_of(spec: FilterSpec, fs: float) -> np.ndarray:
    """Filter designs are pure functions of the params: design each once per process."""
    return design(spec, fs)


@dataclass(frozen=True)
class Block:
    """Window starts ``[core_start, core_stop)`` computed on samples ``[ext_start, ext_stop)``."""

    core_start: int
    core_stop: int
    ext_start: int
    ext_stop: int


@dataclass(frozen=True)
class BlockPlan:
    """How one recording is cut: its length at ``fs``, window starts, segments and blocks."""

    n: int  # samples of every channel at fs (the shortest channel's)
    horizon: int  # label horizon in samples (0 without ABP)
    starts: np.ndarray  # every candidate window start
    segment: int  # samples per peak-detection segment
    blocks: list[Block]

    def block_starts(self, block: Block) -> np.ndarray:
        lo, hi = np.searchsorted(self.starts, [block.core_start, block.core_stop])
        return self.starts[lo:hi]


def _resampled_length(n_native: int, fs_in: float, fs_out: float) -> int:
    up, down = rational_factors(fs_in, fs_out)
    return -((-n_native * up) // down)  # ceil, as resample_poly gives


def plan_blocks(rec: Recording, cfg: DatasetWindows, params: WindowsParams) -> BlockPlan:
    """Blocks of ``params.block_s`` (one block when None) covering every window start."""
    fs, length = params.fs, params.length
    signals = [rec.signals[c] for c in cfg.channels]
    n = min(_resampled_length(len(s.data), s.fs, fs) for s in signals)
    horizon = round(params.label_horizon_s * fs) if "ABP" in cfg.channels else 0
    last = n - length - horizon
    if last < 0:
        raise CaseError(
            f"recording of {n / fs:.1f} s is shorter than one window "
            f"({(length + horizon) / fs:.1f} s with the label horizon)"
        )
    starts = np.arange(0, last + 1, cfg.stride, dtype=np.int64)
    segment = round(params.peak_segment_s * fs)
    if params.block_s is None:
        return BlockPlan(n, horizon, starts, segment, [Block(0, n, 0, n)])
    size = segment * round(params.block_s / params.peak_segment_s)
    margin = round((DETECTOR_CONTEXT_S + _MAP_SPAN_S) * fs) + length + horizon
    blocks = []
    for core_start in range(0, n, size):
        core_stop = min(core_start + size, n)
        blocks.append(
            Block(core_start, core_stop, max(0, core_start - margin), min(n, core_stop + margin))
        )
    return BlockPlan(n, horizon, starts, segment, blocks)


class ChannelReader:
    """Any range of one channel at ``fs``, with the samples resampling it whole would give.

    The native slice read reaches the FIR's support past both ends of the range and starts on
    a multiple of ``down`` native samples, where the polyphase pattern starts; a range that
    ends near the channel's end reads to its end, where whole resampling pads.
    """

    def __init__(self, sig: Signal, fs: float, invert: bool) -> None:
        self.sig, self.fs, self.invert = sig, fs, invert
        self.up, self.down = rational_factors(sig.fs, fs)
        self.n = _resampled_length(len(sig.data), sig.fs, fs)
        self.support = -(-fir_half_length(self.up, self.down) // self.down) + 2

    def __call__(self, lo: int, hi: int) -> np.ndarray:
        start = max(0, (lo - self.support) // self.up * self.up)
        stop = len(self.sig.data)
        if hi + self.support < self.n:
            stop = min(stop, -(-(hi + self.support) * self.down // self.up) + 1)
        x = resample(self.sig.data[start * self.down // self.up : stop], self.sig.fs, self.fs)
        x = x[lo - start : hi - start]
        return -x if self.invert else x


class RecordingSignals:
    """Raw (resampled, inverted) and filtered channels of a recording, a block at a time."""

    def __init__(
        self, rec: Recording, cfg: DatasetWindows, params: WindowsParams, plan: BlockPlan
    ) -> None:
        self.whole: tuple[np.ndarray, np.ndarray] | None = None
        if len(plan.blocks) == 1:
            self.whole = _whole(rec, cfg, params, plan.n)
            return
        fs = params.fs
        grid = round(_STATE_GRID_S * fs)
        chunk = -(-(plan.blocks[0].core_stop - plan.blocks[0].core_start) // grid) * grid
        self.readers = [ChannelReader(rec.signals[c], fs, c in cfg.invert) for c in cfg.channels]
        self.filters = [
            ChunkedFiltFilt(
                sos_of(filter_spec(params.filters[c]), fs),
                lambda lo, hi, r=reader: r(lo, hi).astype(np.float64),
                reader.n,
                grid,
                chunk,
            )
            for c, reader in zip(cfg.channels, self.readers, strict=True)
        ]

    def block(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        """``[C, ext_stop - ext_start]`` float32 raw and filtered samples of ``block``."""
        lo, hi = block.ext_start, block.ext_stop
        if self.whole is not None:
            return self.whole[0][:, lo:hi], self.whole[1][:, lo:hi]
        raw, filtered = [], []
        for reader, chunked in zip(self.readers, self.filters, strict=True):
            start, stop = chunked.span(lo, hi)
            x = reader(start, stop)
            raw.append(x[lo - start : hi - start])
            filtered.append(chunked.filtered(lo, hi, x.astype(np.float64), start))
        return np.stack(raw).astype(np.float32), np.stack(filtered)


def cut_windows(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """``[C, L]`` -> ``[n, C, length]`` views at ``starts`` (copied by the caller's indexing)."""
    view = sliding_window_view(x, length, axis=1)  # [C, L - length + 1, length]
    return view[:, starts, :].transpose(1, 0, 2)


def _whole(
    rec: Recording, cfg: DatasetWindows, params: WindowsParams, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every channel resampled and filtered whole, cut to the common length ``n``."""
    raw, filtered = [], []
    for channel in cfg.channels:
        sig = rec.signals[channel]
        x = resample(sig.data, sig.fs, params.fs)
        if channel in cfg.invert:
            x = -x
        raw.append(x)
        filtered.append(apply(sos_of(filter_spec(params.filters[channel]), params.fs), x))
    return (
        np.stack([x[:n] for x in raw]).astype(np.float32),
        np.stack([x[:n] for x in filtered]).astype(np.float32),
    )
