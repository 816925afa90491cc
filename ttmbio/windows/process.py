"""One recording in, quality-gated labelled windows out (spec 000's preprocessing).

Order of work, per recording: refuse it (:class:`CaseError`, the stage skips and counts it)
when no window could be right -- a channel empty, entirely flat or sampled too slowly for
its filter, or channels of disagreeing durations (a wrong rate in a header) -- then resample
every channel to ``fs`` (anti-aliased polyphase), invert channels recorded upside down
(smartphone PPG is brightness), filter each channel zero-phase, cut windows of ``length``
every ``stride`` samples, then run the gates in a fixed order and count each rejected
window once, under the first gate it fails. Flatline and
clipping are judged on the native-rate signal, where a saturated rail is still flat;
everything else on the filtered signal. Peaks are detected once per segment of
``windows.peak_segment_s`` (:mod:`ttmbio.windows.beats`), not per window, and the work goes
block by block (:mod:`ttmbio.windows.blocks`) with the output of whole-recording processing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ttmbio.errors import CaseError
from ttmbio.params import DatasetWindows, FilterParams, QualityParams, WindowsParams
from ttmbio.signal.peaks import ecg_r_peaks, heart_rate_bpm, ppg_peaks
from ttmbio.signal.quality import (
    bsqi,
    clipped_fraction,
    ecg_template_sqi,
    longest_flat_run_s,
    morphology_sqi,
    ppg_skewness_sqi,
    ppg_template_sqi,
)
from ttmbio.sources.base import Recording, Signal, finite_range
from ttmbio.windows.beats import SegmentBeats
from ttmbio.windows.blocks import (
    Block,
    BlockPlan,
    RecordingSignals,
    cut_windows,
    filter_spec,
    plan_blocks,
)
from ttmbio.windows.kept import SpilledWindows
from ttmbio.windows.labels import forecast_labels, map_per_second

__all__ = ["GATE_ORDER", "WindowBlock", "check_channels", "filter_spec", "process_recording"]

GATE_ORDER = (
    "gap",
    "flatline",
    "clipping",
    "bp",
    "hr",
    "cycles",
    "ecg_sqi",
    "ppg_tsqi",
    "ppg_ssqi",
)
SQI_FIELDS = ("ecg_sqi", "ppg_tsqi", "ppg_ssqi", "n_cycles", "hr_bpm")


@dataclass
class WindowBlock:
    """Accepted windows of one recording plus what the gates saw of all candidates."""

    signals: np.ndarray | SpilledWindows  # [n, C, T] float32, filtered, not normalised
    meta: dict[str, np.ndarray]  # per accepted window: start_s, labels, SQIs
    candidates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    sqi_all: dict[str, np.ndarray] = field(default_factory=dict)  # every candidate window
    # every candidate window: its start and the first gate it failed ("" when kept)
    candidate_start_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    candidate_reason: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="<U1"))
    # every candidate window: each applied gate -> whether it fails that gate, in any order
    candidate_failed: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.signals)


def _check_channel(channel: str, sig: Signal, spec: FilterParams, gates: list[str]) -> None:
    lo, hi = finite_range(sig.data)
    if not np.isfinite(lo):
        raise CaseError(f"channel {channel} has no finite samples")
    edge = max((e for e in spec.band if e is not None), default=0.0)
    if edge and sig.fs <= 2 * edge:
        raise CaseError(
            f"channel {channel} is sampled at {sig.fs:g} Hz, too slow for its {edge:g} Hz "
            f"filter (windows.filters.{channel}); check the recording's sampling rate"
        )
    flat = lo == hi and not channel.startswith("ACC_")
    if flat and "flatline" in gates:
        raise CaseError(
            f"channel {channel} is flat (every sample is {lo:g}); "
            "check the sensor, or remove the recording"
        )


def _check_durations(signals: dict[str, Signal]) -> None:
    """Channels of one recording span the same time, unless a sampling rate is wrong."""
    spans = [s.duration_s for s in signals.values()]
    if max(spans) - min(spans) > max(1.0, 0.1 * max(spans)):
        listed = ", ".join(
            f"{c} {s.duration_s:.1f} s ({len(s.data)} at {s.fs:g} Hz)" for c, s in signals.items()
        )
        raise CaseError(
            f"channels disagree in duration ({listed}); a sampling rate in the "
            "recording's header is probably wrong"
        )


def check_channels(rec: Recording, cfg: DatasetWindows, params: WindowsParams) -> None:
    """Refuse a recording no window of which could be right, naming the channel at fault.

    An empty or entirely flat channel (a sensor that was off) or a rate too slow for the
    channel's filter (a numeric track, a wrong rate in a header) would otherwise come out as
    silently rejected or wrong windows; channels whose durations disagree mean that some
    header's sampling rate is wrong. Accelerometer axes may be flat (a device held still).
    """
    for channel in cfg.channels:
        _check_channel(channel, rec.signals[channel], params.filters[channel], cfg.gates)
    _check_durations({c: rec.signals[c] for c in cfg.channels})


@dataclass
class _BlockResult:
    """What one block gives: its kept windows, and every candidate's checks and values."""

    signals: np.ndarray
    checks: dict[str, np.ndarray]
    info: dict[str, np.ndarray]
    map_s: np.ndarray  # per-second MAP of the seconds centred in the block's core


def process_recording(
    rec: Recording, cfg: DatasetWindows, params: WindowsParams, spill: Path | None = None
) -> WindowBlock:
    """Windows of one recording that pass ``cfg.gates``, with per-window labels and SQIs.

    With an ABP channel, windows also get ``map_mmhg``, ``hypotension`` and
    ``hypotension_forecast`` (see :mod:`ttmbio.windows.labels`); a label horizon keeps only
    windows followed by ``label_horizon_s`` of recording. The recording is worked through in
    blocks (:mod:`ttmbio.windows.blocks`), which gives the same bytes as processing it whole.
    With a ``spill`` folder, each block's kept windows go to a file there as the block is done
    (:class:`~ttmbio.windows.kept.SpilledWindows`) rather than staying in memory.
    """
    check_channels(rec, cfg, params)
    plan = plan_blocks(rec, cfg, params)
    signals = RecordingSignals(rec, cfg, params, plan)
    shape = (len(cfg.channels), params.length)
    kept = SpilledWindows.create(spill, shape) if spill is not None else None
    held: list[np.ndarray] = []
    keep_windows = held.append if kept is None else kept.append
    parts = []
    for b in plan.blocks:
        part = _process_block(rec, cfg, params, plan, b, signals)
        keep_windows(part.signals)
        part.signals = np.zeros((0, *shape), dtype=np.float32)  # held or spilled: not twice
        parts.append(part)
    checks = {k: np.concatenate([p.checks[k] for p in parts]) for k in parts[0].checks}
    info = {k: np.concatenate([p.info[k] for p in parts]) for k in parts[0].info}
    if "ABP" in cfg.channels:
        info["hypotension_forecast"] = forecast_labels(
            np.concatenate([p.map_s for p in parts]),
            params.fs,
            plan.starts,
            params.length,
            60.0 * params.forecast_horizon_min,
            params.hypotension_mmhg,
            params.event_min_s,
        )
    n = len(plan.starts)
    applied = [g for g in GATE_ORDER if g in checks and (g == "gap" or g in cfg.gates)]
    keep = np.ones(n, dtype=bool)
    reason = np.full(n, "", dtype=f"<U{max(map(len, GATE_ORDER))}")
    rejected: Counter[str] = Counter()
    for gate in applied:
        failed = keep & checks[gate]
        if failed.any():
            rejected[gate] = int(failed.sum())
            reason[failed] = gate
        keep &= ~checks[gate]
    return WindowBlock(
        signals=np.concatenate(held) if kept is None else kept,
        meta={k: v[keep] for k, v in info.items()},
        candidates=n,
        rejected=rejected,
        sqi_all={k: info[k] for k in SQI_FIELDS if k in info},
        candidate_start_s=info["start_s"],
        candidate_reason=reason,
        candidate_failed={g: checks[g] for g in applied},
    )


def _process_block(
    rec: Recording,
    cfg: DatasetWindows,
    params: WindowsParams,
    plan: BlockPlan,
    block: Block,
    signals: RecordingSignals,
) -> _BlockResult:
    """Checks, values and kept windows of the candidates that start in ``block``'s core."""
    raw, filt = signals.block(block)
    length, fs, q = params.length, params.fs, params.quality
    starts = plan.block_starts(block)
    local = starts - block.ext_start
    n = len(starts)
    channel = {c: i for i, c in enumerate(cfg.channels)}
    w_raw, w_filt = cut_windows(raw, local, length), cut_windows(filt, local, length)
    checks: dict[str, np.ndarray] = {}
    info: dict[str, np.ndarray] = {"start_s": starts / fs}

    checks["gap"] = ~np.isfinite(w_filt).all(axis=(1, 2)) | ~np.isfinite(w_raw).all(axis=(1, 2))
    # flatline and clipping on the native-rate signal: resampling overshoots at the corners
    # of a clipped plateau and would hide the rail. Accelerometer axes are exempt: a device
    # held still is legitimately flat.
    physiological = [c for c in cfg.channels if not c.startswith("ACC_")]
    if {"flatline", "clipping"} & set(cfg.gates) and physiological:  # in every block, so
        # the blocks' checks have the same keys (a block may hold no window start)
        flat, clip = _native_defects(rec, physiological, starts / fs, length / fs)
        checks["flatline"] = flat > q.flatline_max_s
        checks["clipping"] = clip > q.clipped_max_fraction

    beats = SegmentBeats(plan, block, starts, length, fs)
    if "ECG" in channel:
        ecg = filt[channel["ECG"]]
        r_found = beats.detect(ecg, ecg_r_peaks)
        r_peaks = beats.windows_of(r_found)
        info["hr_bpm"] = heart_rate_bpm(r_peaks, fs).astype(np.float32)
        info["ecg_sqi"] = _ecg_sqi(ecg, w_filt[:, channel["ECG"]], r_found, r_peaks, beats, q, fs)
        lo, hi = q.hr_bpm
        checks["hr"] = ~((info["hr_bpm"] >= lo) & (info["hr_bpm"] <= hi))
        checks["ecg_sqi"] = ~(info["ecg_sqi"] >= q.sqi_min("ecg_sqi"))
    if "PPG" in channel:
        w_ppg = w_filt[:, channel["PPG"]]
        pulses = beats.per_window(filt[channel["PPG"]], ppg_peaks)
        info["n_cycles"] = np.array([len(p) for p in pulses], dtype=np.float32)
        info["ppg_tsqi"] = _ppg_sqi(w_ppg, pulses, q, fs)
        info["ppg_ssqi"] = ppg_skewness_sqi(np.nan_to_num(w_ppg)).astype(np.float32)
        checks["cycles"] = info["n_cycles"] < q.min_cycles
        checks["ppg_tsqi"] = ~(info["ppg_tsqi"] >= q.sqi_min("ppg_tsqi"))
        checks["ppg_ssqi"] = ~(info["ppg_ssqi"] >= q.ppg_ssqi_min)
    map_s = np.zeros(0)
    if "ABP" in channel:
        abp = raw[channel["ABP"]]
        w_abp = np.nan_to_num(w_raw[:, channel["ABP"]])  # windows with gaps fail "gap" first
        info["map_mmhg"] = w_abp.mean(axis=1).astype(np.float32)
        nan = np.full(n, np.nan, dtype=np.float32)
        pulse = np.percentile(w_abp, 95, axis=1) - np.percentile(w_abp, 5, axis=1) if n else nan
        lo, hi = q.map_mmhg
        checks["bp"] = ~(
            (info["map_mmhg"] >= lo)
            & (info["map_mmhg"] <= hi)
            & (pulse >= q.pulse_pressure_min_mmhg)
        )
        info["hypotension"] = _hypotension(
            abp, local, length, plan.horizon, params.hypotension_mmhg
        )
        map_s = map_per_second(abp, fs, block.ext_start, plan.n, block.core_start, block.core_stop)

    kept = np.ones(n, dtype=bool)
    for gate, failed in checks.items():
        if gate == "gap" or gate in cfg.gates:
            kept &= ~failed
    signals = np.ascontiguousarray(w_filt[kept], dtype=np.float32)
    return _BlockResult(signals, checks, info, map_s)


def _ecg_sqi(
    ecg: np.ndarray,
    windows: np.ndarray,
    r_found: list[tuple[np.ndarray, np.ndarray]],
    r_peaks: list[np.ndarray],
    beats: SegmentBeats,
    q: QualityParams,
    fs: float,
) -> np.ndarray:
    """The ``ecg_sqi`` of every candidate window by ``q.ecg_method`` (float32).

    ``r_found`` are the R peaks (detector "neurokit") of each detection segment and
    ``r_peaks`` each window's share of them. ``bsqi`` runs its two detectors once per segment
    of the filtered ECG, reusing ``r_found`` for "neurokit".
    """
    if q.ecg_method == "morphology":
        sqi = morphology_sqi(windows, r_peaks, fs, q.morph_r_min, q.morph_max, q.ecg_morph_half_s)
    elif q.ecg_method == "template":
        sqi = ecg_template_sqi(windows, r_peaks, fs)
    else:
        a, b = (
            r_found
            if method == "neurokit"
            else beats.detect(ecg, lambda x, f, m=method: ecg_r_peaks(x, f, m))
            for method in q.ecg_bsqi_detectors
        )
        per_run = [
            bsqi(pa, pb, local, windows.shape[1], fs)
            for (pa, local), (pb, _) in zip(a, b, strict=True)
        ]
        sqi = np.concatenate(per_run) if per_run else np.zeros(0)
    return sqi.astype(np.float32)


def _ppg_sqi(
    windows: np.ndarray, pulses: list[np.ndarray], q: QualityParams, fs: float
) -> np.ndarray:
    """The ``ppg_tsqi`` of every candidate window by ``q.ppg_method`` (float32)."""
    if q.ppg_method == "morphology":
        sqi = morphology_sqi(windows, pulses, fs, q.morph_r_min, q.morph_max)
    else:
        sqi = ppg_template_sqi(windows, pulses, fs)
    return sqi.astype(np.float32)


def _native_defects(
    rec: Recording, channels: list[str], starts_s: np.ndarray, duration_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Longest flat run (s) and clipped fraction per window, worst over ``channels``."""
    flat = np.zeros(len(starts_s))
    clip = np.zeros(len(starts_s))
    if not len(starts_s):  # a block that starts no window
        return flat, clip
    for name in channels:
        sig = rec.signals[name]
        size = round(duration_s * sig.fs)
        first = np.minimum(np.round(starts_s * sig.fs).astype(np.int64), len(sig.data) - size)
        lo, hi = int(first.min()), int(first.max()) + size  # read only the block's span
        w = np.nan_to_num(sliding_window_view(np.asarray(sig.data[lo:hi]), size)[first - lo])
        flat = np.maximum(flat, longest_flat_run_s(w, sig.fs))
        clip = np.maximum(clip, clipped_fraction(w))
    return flat, clip


def _hypotension(
    abp: np.ndarray, starts: np.ndarray, length: int, horizon: int, threshold: float
) -> np.ndarray:
    """1 when mean ABP is below ``threshold``: over the window itself (``horizon`` 0) or over
    the ``horizon`` samples right after it (prediction); -1 when that span has no data."""
    if horizon == 0:
        spans = cut_windows(abp[None], starts, length)[:, 0]
    else:
        spans = cut_windows(abp[None], starts + length, horizon)[:, 0]
    finite = np.isfinite(spans)
    count = finite.sum(axis=1)
    mean = np.where(finite, spans, 0.0).sum(axis=1) / np.maximum(count, 1)
    valid = count >= 0.5 * spans.shape[1]
    return np.where(valid, mean < threshold, -1).astype(np.int8)
