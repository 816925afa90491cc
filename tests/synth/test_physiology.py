"""Tests for the synthetic physiology generators (ranges, consistency, labels, artefacts)."""

from __future__ import annotations

import dataclasses

import neurokit2 as nk
import numpy as np
import pytest
from scipy import signal

from ttmbio.synth import physiology as ph

FS = ph.FS_VITAL
ARTIFACTS = set(ph.ARTIFACT_KINDS)


# The tests in this file check sinus-rhythm physiology; pathology has its own tests
# (test_pathology.py) and is switched on here only where a test asks for it.
HEALTHY = {
    "pvc_per_min": 0.0,
    "pac_per_min": 0.0,
    "n_af_episodes": 0,
    "low_perfusion": False,
    "precursor_strengths": (),
    "n_false_alarms": 0,
}


def _profile(seed: int, duration_s: float = 240.0, **overrides: object) -> ph.CaseProfile:
    base = ph.random_case_profile(np.random.default_rng(seed), duration_s)
    return dataclasses.replace(base, **{**HEALTHY, **overrides})


def _case(seed: int, duration_s: float = 240.0, **overrides: object) -> ph.VitalCaseSignals:
    return ph.simulate_vital_case(
        _profile(seed, duration_s, **overrides), np.random.default_rng(1000 + seed)
    )


def _mask(case: ph.VitalCaseSignals, kinds: set[str]) -> np.ndarray:
    m = np.zeros(case.ecg_mv.size, dtype=bool)
    for ev in case.events:
        if ev.kind in kinds:
            m[round(ev.start_s * FS) : round(ev.end_s * FS)] = True
    return m


def _clean_windows(case: ph.VitalCaseSignals, win_s: float) -> list[slice]:
    """Non-overlapping windows that touch no artefact event (episodes allowed)."""
    dirty = _mask(case, ARTIFACTS)
    w = int(win_s * FS)
    return [slice(i, i + w) for i in range(0, dirty.size - w + 1, w) if not dirty[i : i + w].any()]


@pytest.fixture(scope="module")
def cases() -> list[ph.VitalCaseSignals]:
    """Varied 4-min cases spanning the HR range and all morphologies, with episodes/artefacts."""
    hrs = (45.0, 70.0, 95.0, 130.0)
    return [
        _case(
            s,
            base_hr_bpm=hrs[s],
            ecg_morphology=s,
            ppg_morphology=s,
            n_hypotension_episodes=1,
            artifact_rate_per_min=1.5,
            has_bis=s % 2 == 0,
        )
        for s in range(4)
    ]


# ------------------------------------------------------------------ profiles


def test_random_profiles_cover_ranges() -> None:
    rng = np.random.default_rng(0)
    profs = [ph.random_case_profile(rng, 900.0) for _ in range(300)]
    hr = np.array([p.base_hr_bpm for p in profs])
    assert hr.min() >= 45 and hr.max() <= 130 and hr.min() < 50 and hr.max() > 125
    assert all(8 <= p.resp_rate_bpm <= 20 for p in profs)
    assert {p.ecg_morphology for p in profs} == set(range(ph.N_ECG_MORPHOLOGIES))
    assert {p.ppg_morphology for p in profs} == set(range(ph.N_PPG_MORPHOLOGIES))
    assert {p.n_hypotension_episodes for p in profs} == {0, 1, 2, 3}
    assert ph.N_ECG_MORPHOLOGIES >= 3 and ph.N_PPG_MORPHOLOGIES >= 3
    assert any(p.has_bis for p in profs) and not all(p.has_bis for p in profs)
    short = [ph.random_case_profile(rng, 120.0).n_hypotension_episodes for _ in range(50)]
    assert max(short) <= 1


# ------------------------------------------------------------------ vital cases


def test_shapes_dtypes_rates(cases: list[ph.VitalCaseSignals]) -> None:
    for c in cases:
        assert c.fs == 500.0
        for x in (c.ecg_mv, c.pleth, c.art_mmhg):
            assert x.dtype == np.float32 and x.shape == (240 * 500,)
        assert np.allclose(np.diff(c.hr_times_s), 2.0) and np.allclose(np.diff(c.map_times_s), 2.0)
        assert c.hr_bpm.shape == c.hr_times_s.shape and c.map_mmhg.shape == c.map_times_s.shape
        if c.bis is None:
            assert c.bis_times_s is None
        else:
            assert np.allclose(np.diff(c.bis_times_s), 5.0) and c.bis.shape == c.bis_times_s.shape
            assert 30 <= np.median(c.bis) <= 65
    assert [c.bis is not None for c in cases] == [True, False, True, False]


def test_deterministic() -> None:
    prof = _profile(7, 180.0, artifact_rate_per_min=2.0, n_hypotension_episodes=1)
    a = ph.simulate_vital_case(prof, np.random.default_rng(3))
    b = ph.simulate_vital_case(prof, np.random.default_rng(3))
    c = ph.simulate_vital_case(prof, np.random.default_rng(4))
    for f in ("ecg_mv", "pleth", "art_mmhg", "hr_bpm", "map_mmhg"):
        assert np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True)
    assert a.events == b.events
    assert not np.array_equal(a.ecg_mv, c.ecg_mv, equal_nan=True)


def test_mostly_clean(cases: list[ph.VitalCaseSignals]) -> None:
    long = _case(11, 900.0, artifact_rate_per_min=3.0)
    for c in [*cases, long]:
        assert _mask(c, ARTIFACTS).mean() <= 0.3
    assert sum(ev.kind in ARTIFACTS for ev in long.events) >= 10


def test_hypotension_labels_match_art() -> None:
    """8 s ART means are < 65 inside episodes and > 65 outside (away from the edges)."""
    margin = 8.0
    n_in = n_out = 0
    for seed in range(6):
        c = _case(20 + seed, 300.0, n_hypotension_episodes=2, artifact_rate_per_min=0.5)
        hypo = [ev for ev in c.events if ev.kind == "hypotension"]
        assert len(hypo) == 2
        assert all(55.0 <= ev.end_s - ev.start_s <= 305.0 for ev in hypo)
        for w in _clean_windows(c, 8.0):
            t0, t1 = w.start / FS, w.stop / FS
            m = float(np.nanmean(c.art_mmhg[w]))
            if any(ev.start_s + margin <= t0 and t1 <= ev.end_s - margin for ev in hypo):
                assert m < 65.0
                n_in += 1
            elif all(t1 <= ev.start_s - margin or t0 >= ev.end_s + margin for ev in hypo):
                assert m > 65.0
                n_out += 1
        # HR rises and the PPG pulse shrinks during episodes (so PPG + ECG carry the label)
        in_ep = _mask(c, {"hypotension"})
        in_num = in_ep[np.minimum((c.hr_times_s * FS).astype(int), in_ep.size - 1)]
        assert np.nanmean(c.hr_bpm[in_num]) > np.nanmean(c.hr_bpm[~in_num]) + 5
        clean = ~_mask(c, ARTIFACTS)
        amp_in = np.nanpercentile(c.pleth[in_ep & clean], 95) - np.nanpercentile(
            c.pleth[in_ep & clean], 5
        )
        amp_out = np.nanpercentile(c.pleth[~in_ep & clean], 95) - np.nanpercentile(
            c.pleth[~in_ep & clean], 5
        )
        assert amp_in < 0.85 * amp_out
    assert n_in > 20 and n_out > 20


def test_no_episodes_means_no_hypotension() -> None:
    c = _case(5, 240.0, n_hypotension_episodes=0, base_map_mmhg=75.0, artifact_rate_per_min=0.0)
    assert not [ev for ev in c.events if ev.kind == "hypotension"]
    assert np.nanmin(c.map_mmhg) > 65


def test_disconnects_are_exactly_the_nans() -> None:
    seen = set()
    for seed in range(8):
        c = _case(40 + seed, 300.0, artifact_rate_per_min=4.0)
        for name, x in (("ecg", c.ecg_mv), ("pleth", c.pleth), ("art", c.art_mmhg)):
            expected = _mask(c, {f"disconnect_{name}"})
            assert np.array_equal(np.isnan(x), expected)
            seen |= {name} if expected.any() else set()
        for ev in c.events:
            assert 0 <= ev.start_s < ev.end_s <= 300.0
            if ev.kind.startswith("disconnect"):
                assert 2.0 <= ev.end_s - ev.start_s <= 60.0
    assert seen == {"ecg", "pleth", "art"}


def test_flatline_clipping_mains_are_recorded() -> None:
    chans = {"ecg": "ecg_mv", "pleth": "pleth", "art": "art_mmhg"}
    seen = set()
    for seed in range(8):
        c = _case(60 + seed, 300.0, artifact_rate_per_min=4.0)
        for ev in c.events:
            sl = slice(round(ev.start_s * FS), round(ev.end_s * FS))
            kind, _, name = ev.kind.partition("_")
            if kind == "flatline":
                assert np.ptp(getattr(c, chans[name])[sl]) == 0.0
            elif kind == "clipping":
                seg = getattr(c, chans[name])[sl]
                at_rail = max(np.mean(seg == seg.max()), np.mean(seg == seg.min()))
                assert at_rail >= 0.15
            elif ev.kind == "mains_noise":
                f, pxx = signal.welch(c.ecg_mv[sl], FS, nperseg=1000)
                line = pxx[(np.abs(f - 50) < 1.5) | (np.abs(f - 60) < 1.5)].max()
                assert line > 100 * np.median(pxx[(f > 70) & (f < 200)])
            elif ev.kind == "motion":
                x = c.ecg_mv[sl]
                assert np.ptp(x) > 1.0
            seen.add(kind if kind in ("flatline", "clipping") else ev.kind)
    assert {"flatline", "clipping", "mains_noise", "motion"} <= seen


def test_plausible_ranges_on_clean_segments(cases: list[ph.VitalCaseSignals]) -> None:
    for c in cases:
        assert np.nanmin(c.hr_bpm) >= 45 and np.nanmax(c.hr_bpm) <= 150
        outside = ~_mask(c, {"hypotension"})
        for w in _clean_windows(c, 30.0)[:3]:
            if not outside[w].all():
                continue
            ecg = c.ecg_mv[w].astype(float)
            _, info = nk.ecg_peaks(ecg, sampling_rate=int(FS))
            r = info["ECG_R_Peaks"]
            base = np.median(ecg)
            amp = np.median(ecg[r] - base)
            assert 0.5 <= amp <= 2.5
            art = c.art_mmhg[w]
            beat = int(FS * 60 / np.nanmean(c.hr_bpm))
            sys = signal.find_peaks(art, distance=int(0.7 * beat))[0]
            dia = signal.find_peaks(-art, distance=int(0.7 * beat))[0]
            assert 80 <= np.median(art[sys]) <= 180
            assert 35 <= np.median(art[dia]) <= 100
            assert np.nanmin(c.pleth[w]) >= 0 and np.nanmax(c.pleth[w]) <= 100


def test_hr_from_ecg_matches_numeric(cases: list[ph.VitalCaseSignals]) -> None:
    checked = 0
    for c in cases:
        for w in _clean_windows(c, 30.0)[:2]:
            _, info = nk.ecg_peaks(c.ecg_mv[w].astype(float), sampling_rate=int(FS))
            detected = 60.0 * FS / np.mean(np.diff(info["ECG_R_Peaks"]))  # numerics are means
            t0, t1 = w.start / FS, w.stop / FS
            sel = (c.hr_times_s >= t0 + 8) & (c.hr_times_s <= t1)
            assert abs(detected - np.nanmean(c.hr_bpm[sel])) <= 5.0
            checked += 1
    assert checked >= 6


def test_one_beat_sequence_drives_all_waveforms(cases: list[ph.VitalCaseSignals]) -> None:
    """Each R peak is followed by an ART pulse peak, and the PPG peak comes after the ART one."""
    for c in cases:
        w = _clean_windows(c, 30.0)[0]
        _, info = nk.ecg_peaks(c.ecg_mv[w].astype(float), sampling_rate=int(FS))
        r = info["ECG_R_Peaks"] / FS
        dist = int(0.6 * FS * np.median(np.diff(r)))
        art_pk = signal.find_peaks(c.art_mmhg[w], distance=dist, prominence=5)[0] / FS
        ppg_pk = signal.find_peaks(c.pleth[w], distance=dist, prominence=3)[0] / FS
        lag_art = [art_pk[art_pk > t][0] - t for t in r[:-2] if (art_pk > t).any()]
        lag_ppg = [ppg_pk[ppg_pk > t][0] - t for t in art_pk[:-2] if (ppg_pk > t).any()]
        assert 0.2 <= np.median(lag_art) <= 0.45
        assert 0.03 <= np.median(lag_ppg) <= 0.3
        assert np.std(lag_art) < 0.03  # locked to the R peaks, not just the same rate


# ------------------------------------------------------------------ BUT-PPG records


def test_butppg_shapes_and_determinism() -> None:
    a = ph.simulate_butppg_record(np.random.default_rng(5), good=False)
    b = ph.simulate_butppg_record(np.random.default_rng(5), good=False)
    assert a.ppg.shape == (300,) and a.ecg_mv.shape == (10000,) and a.acc_g.shape == (1000, 3)
    assert a.ppg.dtype == a.ecg_mv.dtype == a.acc_g.dtype == np.float32
    assert a.quality == 0 and isinstance(a.hr_bpm, float)
    for f in ("ppg", "ecg_mv", "acc_g"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
    g = ph.simulate_butppg_record(np.random.default_rng(5), good=True, base_hr_bpm=72.0)
    assert g.quality == 1 and abs(g.hr_bpm - 72.0) < 6
    assert 0.9 < np.linalg.norm(g.acc_g.mean(axis=0)) < 1.1
