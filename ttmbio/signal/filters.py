"""Zero-phase IIR filtering in second-order sections, NaN-aware.

Why SOS + filtfilt: second-order sections stay numerically stable for the high orders and low
edges (0.5 Hz at 125 Hz) biosignal band-passes need, where (b, a) polynomials lose precision;
forward-backward filtering cancels the phase so peaks and pulse feet do not shift in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.signal import butter, cheby2, sosfiltfilt

from ttmbio.signal.runs import true_runs


@dataclass(frozen=True)
class FilterSpec:
    """An IIR filter design; ``low_hz``/``high_hz`` None drops that edge.

    Edges are passed to scipy as ``Wn``: for ``butter`` they are -3 dB points, for ``cheby2``
    they are where the stop band *starts* (attenuation reaches ``stopband_db``): an order-4
    cheby2 "0.5-8 Hz" at 125 Hz is -9 dB at 0.75 Hz (45 bpm) and -6 dB at 5 Hz per pass, so
    its edges must sit well outside the band to keep.
    """

    kind: Literal["butter", "cheby2"]
    order: int
    low_hz: float | None  # None = no high-pass edge (low-pass only)
    high_hz: float | None  # None = no low-pass edge (high-pass only)
    stopband_db: float = 40.0  # cheby2 only: minimum stop-band attenuation


def _band(spec: FilterSpec, fs: float) -> tuple[float | list[float], str]:
    """Validate the edges against ``fs`` and return ``(Wn in Hz, btype)``."""
    nyq = fs / 2.0
    edges = {"low_hz": spec.low_hz, "high_hz": spec.high_hz}
    for name, edge in edges.items():
        if edge is not None and not (0.0 < edge < nyq):
            raise ValueError(
                f"FilterSpec.{name}={edge} Hz must lie strictly between 0 and the Nyquist "
                f"frequency {nyq} Hz (fs={fs} Hz)"
            )
    low, high = spec.low_hz, spec.high_hz
    if low is None and high is None:
        raise ValueError("FilterSpec needs low_hz and/or high_hz; both are None")
    if low is not None and high is not None:
        if low >= high:
            raise ValueError(f"FilterSpec.low_hz={low} must be below high_hz={high}")
        return [low, high], "bandpass"
    return (low, "highpass") if low is not None else (high, "lowpass")  # type: ignore[return-value]


def design(spec: FilterSpec, fs: float) -> np.ndarray:
    """Second-order sections for ``spec`` at sampling rate ``fs``; ValueError if impossible."""
    if not (np.isfinite(fs) and fs > 0):
        raise ValueError(f"sampling rate must be positive and finite, got fs={fs}")
    if int(spec.order) != spec.order or spec.order < 1:
        raise ValueError(f"FilterSpec.order={spec.order} must be an integer >= 1")
    wn, btype = _band(spec, fs)
    order = int(spec.order)
    if spec.kind == "butter":
        return butter(order, wn, btype=btype, fs=fs, output="sos")
    if spec.kind == "cheby2":
        if not spec.stopband_db > 0:
            raise ValueError(f"FilterSpec.stopband_db={spec.stopband_db} must be > 0 dB")
        return cheby2(order, spec.stopband_db, wn, btype=btype, fs=fs, output="sos")
    raise ValueError(f"FilterSpec.kind={spec.kind!r} must be 'butter' or 'cheby2'")


def padlen(sos: np.ndarray) -> int:
    """``sosfiltfilt``'s default edge padding; a finite run must be longer than this."""
    sos = np.atleast_2d(sos)
    n_zero = min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return 3 * (2 * len(sos) + 1 - n_zero)


def finite_runs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, stops)`` of the maximal runs of finite samples of a 1-D array (stop exclusive)."""
    return true_runs(np.isfinite(x))


def _apply_1d(sos: np.ndarray, x: np.ndarray, min_len: int) -> np.ndarray:
    starts, stops = finite_runs(x)
    if starts.size == 1 and starts[0] == 0 and stops[0] == x.size and x.size > min_len:
        return sosfiltfilt(sos, x).astype(np.float32)
    out = np.full(x.shape, np.nan, dtype=np.float32)
    for a, b in zip(starts, stops, strict=True):  # one call per gap-free segment
        if b - a > min_len:
            out[a:b] = sosfiltfilt(sos, x[a:b])
    return out


def apply(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Zero-phase ``sosfiltfilt`` along the last axis; float32 out, NaN-aware.

    Each finite run is filtered on its own so a gap neither smears into its neighbours nor
    creates an edge transient; runs not longer than :func:`padlen` (too short for
    ``sosfiltfilt``) become NaN, and NaN stays NaN. Computation is float64 internally.
    """
    x = np.asarray(x, dtype=np.float64)
    min_len = padlen(sos)
    if x.ndim == 0:
        raise ValueError("apply expects a signal, got a scalar")
    if x.shape[-1] > min_len and np.isfinite(x).all():
        return sosfiltfilt(sos, x, axis=-1).astype(np.float32)
    rows = x.reshape(-1, x.shape[-1])
    out = np.stack([_apply_1d(sos, r, min_len) for r in rows]) if rows.size else rows
    return out.reshape(x.shape).astype(np.float32, copy=False)
