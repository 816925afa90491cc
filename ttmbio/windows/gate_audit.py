"""Gate audit: do the quality gates keep clean arrhythmia and reject artefacts? Measured.

A fixed-seed set of short synthetic VitalDB-like cases (:mod:`ttmbio.synth.physiology`, no
artefacts of their own) goes through the real windows code (:func:`process_recording`) with
the configured gates, and again with the spec's beat-template SQI on ECG and PPG for
comparison:

* **clean sinus** windows: every window of the sinus cases;
* **clean arrhythmic** windows: windows of the cases with frequent PVCs, PACs or AF that hold
  an ectopic beat (a ``pvc`` / ``pac`` event entirely inside) or lie >= half in AF;
* **artefact** windows: half of the cases (both rhythms, slow and fast) again with one
  artefact on ECG or PPG (the gated channels), so that every window holds it. ``flatline``
  (the value held), ``clipping`` (a baseline jump into a rail 1 % of the range above the
  recording's maximum) and ``disconnect`` (NaN) are 2 s segments repeating every window
  length, so each window holds 2 s of them; ``noise`` is white Gaussian noise over the whole
  channel at 0 dB SNR in the channel's pass band (its power after the channel's band-pass,
  ``windows.filters``, equals the signal's there).

:func:`gate_audit` returns the kept share of the clean windows and the rejected share of the
artefact windows, overall (all gates) and per gate (that gate alone, whatever the order),
for the configured and for the template gates. Its targets are >= 0.90 of clean arrhythmic
windows kept and >= 0.95 of each artefact kind rejected; ~2.5 s on one CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ttmbio.params import GATE_CHANNELS, DatasetWindows, WindowsParams
from ttmbio.signal.filters import apply, design
from ttmbio.sources.base import Recording, Signal
from ttmbio.synth.physiology import FS_VITAL, CaseProfile, Event, simulate_vital_case
from ttmbio.windows.process import WindowBlock, filter_spec, process_recording

SEED = 20_240_611
ARTEFACTS = ("flatline", "clipping", "disconnect", "noise")
GATED = ("ECG", "PPG")  # channels the artefacts go on (where present)
RHYTHMS = ("pvc", "pac", "af")
_SEGMENT_S = 2.0  # flatline / clipping / disconnect: this long, once per window length
_TRACKS = {"ECG": "ecg_mv", "PPG": "pleth", "ABP": "art_mmhg"}


@dataclass(frozen=True)
class AuditCase:
    """One synthetic case: its rhythm and what :class:`CaseProfile` needs beyond defaults."""

    name: str
    rhythm: str  # "sinus" or "arrhythmic"
    duration_s: float
    hr_bpm: float
    ecg_morphology: int
    ppg_morphology: int
    pvc_per_min: float = 0.0
    pac_per_min: float = 0.0
    n_af_episodes: int = 0
    artefacts: bool = True  # also run it with each artefact injected

    def profile(self) -> CaseProfile:
        return CaseProfile(
            duration_s=self.duration_s,
            base_hr_bpm=self.hr_bpm,
            base_map_mmhg=85.0,
            pulse_pressure_mmhg=48.0,
            ecg_morphology=self.ecg_morphology,
            ppg_morphology=self.ppg_morphology,
            resp_rate_bpm=13.0,
            n_hypotension_episodes=0,
            artifact_rate_per_min=0.0,
            has_bis=False,
            pvc_per_min=self.pvc_per_min,
            pac_per_min=self.pac_per_min,
            n_af_episodes=self.n_af_episodes,
        )


# short cases over the HR range and all morphologies; ectopy at 8 / min is frequent (clinically
# > 30 / h); AF cases are 2 min so that their episode (shrunk to fit) spans ~1 min
CASES = (
    AuditCase("sinus-slow", "sinus", 90.0, 52.0, 0, 0),
    AuditCase("sinus-fast", "sinus", 90.0, 112.0, 2, 2, artefacts=False),
    AuditCase("pvc", "arrhythmic", 90.0, 96.0, 1, 1, pvc_per_min=8.0),
    AuditCase("pvc-slow", "arrhythmic", 90.0, 62.0, 3, 3, pvc_per_min=8.0, artefacts=False),
    AuditCase("pac", "arrhythmic", 90.0, 74.0, 3, 0, pac_per_min=8.0, artefacts=False),
    AuditCase("mixed-ectopy", "arrhythmic", 90.0, 84.0, 0, 2, pvc_per_min=4.0, pac_per_min=4.0),
    AuditCase("af", "arrhythmic", 120.0, 78.0, 2, 1, n_af_episodes=1, artefacts=False),
    AuditCase("af-fast", "arrhythmic", 120.0, 104.0, 1, 3, n_af_episodes=1),
)


def _recording(case: AuditCase, index: int, channels: list[str]) -> tuple[Recording, list[Event]]:
    sig = simulate_vital_case(case.profile(), np.random.default_rng([SEED, index]))
    signals = {c: Signal(getattr(sig, _TRACKS[c]).astype(np.float64), FS_VITAL) for c in channels}
    return Recording("vitaldb", case.name, case.name, signals), sig.events


def _rhythm_masks(block: WindowBlock, events: list[Event], window_s: float) -> dict[str, Any]:
    """Per candidate window: holds a whole pvc / pac event; lies >= half in AF."""
    start = block.candidate_start_s
    end = start + window_s
    masks = {r: np.zeros(start.size, dtype=bool) for r in RHYTHMS}
    for ev in events:
        if ev.kind in ("pvc", "pac"):
            masks[ev.kind] |= (start <= ev.start_s) & (end >= ev.end_s)
        elif ev.kind == "af":
            overlap = np.minimum(end, ev.end_s) - np.maximum(start, ev.start_s)
            masks["af"] |= overlap >= 0.5 * window_s
    return masks


def inject(
    rec: Recording,
    channel: str,
    kind: str,
    params: WindowsParams,
    period_s: float,
    rng: np.random.Generator,
) -> Recording:
    """A copy of ``rec`` with artefact ``kind`` on ``channel`` (see the module docstring)."""
    sig = rec.signals[channel]
    x = np.array(sig.data, dtype=np.float64)
    if kind == "noise":
        sos = design(filter_spec(params.filters[channel]), sig.fs)
        noise = rng.standard_normal(x.size)
        gain = np.sqrt(np.var(apply(sos, x)) / np.var(apply(sos, noise)))
        x = x + gain * noise
    elif kind in ("flatline", "clipping", "disconnect"):
        rail = float(np.nanmax(x) + 0.01 * np.ptp(x))
        seg = round(_SEGMENT_S * sig.fs)
        for t0 in np.arange(0.5 * period_s, len(x) / sig.fs, period_s):
            i0 = round(t0 * sig.fs)
            part = x[i0 : i0 + seg]
            if kind == "flatline":
                part[:] = part[0]
            elif kind == "disconnect":
                part[:] = np.nan
            else:  # a baseline jump drives the amplifier into its rail
                part[:] = np.minimum(part + (rail - np.quantile(part, 0.6)), rail)
    else:
        raise ValueError(f"unknown artefact {kind!r}; choose one of {ARTEFACTS}")
    return Recording(
        rec.dataset, rec.case_id, rec.subject_id, {**rec.signals, channel: Signal(x, sig.fs)}
    )


def _simulated(cfg: DatasetWindows, stride: int) -> DatasetWindows:
    """``cfg`` cut to the channels the audit simulates, and to the gates those can feed, with
    windows every ``stride`` samples (half-overlapping whatever the dataset's stride, so the
    few short audit cases give enough windows per group)."""
    channels = [c for c in cfg.channels if c in _TRACKS]
    if not channels:
        raise ValueError(f"the gate audit simulates {sorted(_TRACKS)}, none of {cfg.channels}")
    gates = [g for g in cfg.gates if GATE_CHANNELS.get(g, channels[0]) in channels]
    invert = [c for c in cfg.invert if c in channels]
    return cfg.model_copy(
        update={"channels": channels, "gates": gates, "invert": invert, "stride": stride}
    )


def _template_params(params: WindowsParams) -> WindowsParams:
    quality = params.quality.model_copy(update={"ecg_method": "template", "ppg_method": "template"})
    return params.model_copy(update={"quality": quality})


@dataclass
class _Tally:
    """Kept flags per window group, overall and per gate, accumulated over the cases."""

    overall: dict[str, list[np.ndarray]]
    gates: dict[str, dict[str, list[np.ndarray]]]

    @classmethod
    def empty(cls) -> _Tally:
        return cls({}, {})

    def add(self, group: str, block: WindowBlock, mask: np.ndarray | None = None) -> None:
        sel = slice(None) if mask is None else mask
        self.overall.setdefault(group, []).append((block.candidate_reason == "")[sel])
        for gate, failed in block.candidate_failed.items():
            self.gates.setdefault(gate, {}).setdefault(group, []).append(~failed[sel])

    def figures(self) -> dict[str, Any]:
        def share(parts: list[np.ndarray], rejected: bool) -> float | None:
            kept = np.concatenate(parts)
            if kept.size == 0:
                return None
            return round(float(np.mean(~kept if rejected else kept)), 4)

        def split(groups: dict[str, list[np.ndarray]]) -> dict[str, Any]:
            return {
                "kept": {g: share(v, False) for g, v in groups.items() if "_" not in g},
                "rejected": {g: share(v, True) for g, v in groups.items() if "_" in g},
            }

        return {**split(self.overall), "gates": {g: split(v) for g, v in self.gates.items()}}


def _audit(
    params: WindowsParams,
    cfg: DatasetWindows,
    recordings: list[tuple[AuditCase, Recording, list[Event]]],
) -> tuple[dict[str, Any], dict[str, int]]:
    tally = _Tally.empty()
    counts: dict[str, int] = {}
    window_s = params.length / params.fs
    gated = [c for c in GATED if c in cfg.channels]
    for i, (case, rec, events) in enumerate(recordings):
        block = process_recording(rec, cfg, params)
        if case.rhythm == "sinus":
            tally.add("sinus", block)
            counts["sinus"] = counts.get("sinus", 0) + block.candidates
        else:
            masks = _rhythm_masks(block, events, window_s)
            arrhythmic = np.logical_or.reduce(list(masks.values()))
            tally.add("arrhythmic", block, arrhythmic)
            counts["arrhythmic"] = counts.get("arrhythmic", 0) + int(arrhythmic.sum())
            for rhythm, mask in masks.items():
                if mask.any():
                    tally.add(rhythm, block, mask)
                    counts[rhythm] = counts.get(rhythm, 0) + int(mask.sum())
        for channel in gated if case.artefacts else []:
            for kind in ARTEFACTS:
                rng = np.random.default_rng([SEED, i, GATED.index(channel), ARTEFACTS.index(kind)])
                bad = inject(rec, channel, kind, params, window_s, rng)
                block = process_recording(bad, cfg, params)
                tally.add(f"{channel}_{kind}", block)
                counts[f"{channel}_{kind}"] = counts.get(f"{channel}_{kind}", 0) + block.candidates
    return tally.figures(), counts


def gate_audit(params: WindowsParams, cfg: DatasetWindows | None = None) -> dict[str, Any]:
    """Kept / rejected shares of the audit windows under ``cfg``'s gates (default: VitalDB).

    Returns ``{"ecg_method", "ppg_method", "windows": counts per group, "kept": {group:
    share}, "rejected": {channel_kind: share}, "gates": {gate: {"kept", "rejected"}},
    "template": the same figures with the template SQIs}``. Groups: ``sinus``,
    ``arrhythmic`` and its parts ``pvc``, ``pac``, ``af``; artefacts ``ECG_noise`` etc.
    Shares are of candidate windows (None for a group without any). Channels other than
    ECG, PPG and ABP (and the gates that need them) are left out of the audit.
    """
    cfg = _simulated(cfg or params.vitaldb, max(params.length // 2, 1))
    recordings = [(case, *_recording(case, i, cfg.channels)) for i, case in enumerate(CASES)]
    figures, counts = _audit(params, cfg, recordings)
    q = params.quality
    out: dict[str, Any] = {
        "ecg_method": q.ecg_method,
        "ppg_method": q.ppg_method,
        "windows": counts,
        **figures,
    }
    if (q.ecg_method, q.ppg_method) == ("template", "template"):
        out["template"] = {k: figures[k] for k in ("kept", "rejected", "gates")}
    else:
        template, _ = _audit(_template_params(params), cfg, recordings)
        out["template"] = template
    return out
