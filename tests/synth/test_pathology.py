"""Pathology in the VitalDB-like cases: ectopy, AF, low perfusion, hypotension precursors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import signal

from ttmbio.synth import physiology as ph
from ttmbio.synth import rhythm as rh

FS = ph.FS_VITAL
ARTIFACTS = set(ph.ARTIFACT_KINDS)


def _profile(duration_s: float = 180.0, **overrides: object) -> ph.CaseProfile:
    base = ph.CaseProfile(
        duration_s=duration_s,
        base_hr_bpm=70.0,
        base_map_mmhg=90.0,
        pulse_pressure_mmhg=45.0,
        ecg_morphology=0,
        ppg_morphology=0,
        resp_rate_bpm=12.0,
        n_hypotension_episodes=0,
        artifact_rate_per_min=0.0,
        has_bis=False,
    )
    return dataclasses.replace(base, **overrides)


def _case(seed: int, **overrides: object) -> ph.VitalCaseSignals:
    return ph.simulate_vital_case(_profile(**overrides), np.random.default_rng(seed))


def _pulse_heights(x: np.ndarray, r: np.ndarray, lo_s: float, hi_s: float) -> np.ndarray:
    """Rise from the start of [R + lo, R + hi] to its maximum: the pulse that beat ejected."""
    out = []
    for t in r:
        seg = x[round((t + lo_s) * FS) : round((t + hi_s) * FS)]
        out.append(seg.max() - seg[0])
    return np.asarray(out)


@pytest.fixture(scope="module")
def ectopic() -> ph.VitalCaseSignals:
    """3 min of sinus rhythm at 70 bpm with 6 PVC/min and 4 PAC/min, no artefacts."""
    return _case(1, pvc_per_min=6.0, pac_per_min=4.0)


def _neighbours(case: ph.VitalCaseSignals, kind: int) -> list[int]:
    """Indices of ectopic beats of ``kind`` with two sinus beats before and one after."""
    b = case.beat_types
    return [
        i
        for i in np.flatnonzero(b == kind)
        if 2 <= i < b.size - 1 and b[i - 1] == b[i - 2] == b[i + 1] == rh.SINUS
    ]


def test_events_mark_each_ectopic_beat(ectopic: ph.VitalCaseSignals) -> None:
    c = ectopic
    kinds = [e.kind for e in c.events]
    assert set(kinds) == {"pvc", "pac"}  # no artefacts, no episodes asked for
    mids = {
        k: np.array([(e.start_s + e.end_s) / 2 for e in c.events if e.kind == k]) for k in {*kinds}
    }
    for kind, code in (("pvc", rh.PVC), ("pac", rh.PAC)):
        r = c.r_peaks_s[c.beat_types == code]
        assert r.size == mids[kind].size >= 6
        assert np.allclose(r, mids[kind], atol=1e-3)
    assert 6 <= kinds.count("pvc") <= 30 and 3 <= kinds.count("pac") <= 24


def test_pvc_full_compensatory_pause_wide_qrs_and_pulse_deficit(
    ectopic: ph.VitalCaseSignals,
) -> None:
    c, r = ectopic, ectopic.r_peaks_s
    idx = _neighbours(c, rh.PVC)
    assert len(idx) >= 5
    normal_rr = np.array([r[i - 1] - r[i - 2] for i in idx])
    coupling = np.array([r[i] - r[i - 1] for i in idx]) / normal_rr
    around = np.array([r[i + 1] - r[i - 1] for i in idx]) / normal_rr
    assert np.all((coupling > 0.45) & (coupling < 0.85))
    assert np.all(np.abs(around - 2.0) < 0.15) and abs(np.mean(around) - 2.0) < 0.06

    # wide QRS: the main deflection is far wider than a sinus R wave (half-height width)
    def width(t: float) -> float:
        seg = c.ecg_mv[round((t - 0.15) * FS) : round((t + 0.15) * FS)].astype(float)
        seg = np.abs(seg - np.median(seg))
        return float(np.sum(seg > 0.5 * seg.max()) / FS)

    sinus = r[(c.beat_types == rh.SINUS) & (r > 1) & (r < 179)][:20]
    assert np.median([width(r[i]) for i in idx]) > 2.5 * np.median([width(t) for t in sinus])
    # pulse deficit in ART and PPG (the normal beats: the two before each PVC)
    normal = np.concatenate([r[[i - 1 for i in idx]], r[[i - 2 for i in idx]]])
    for x, lo, hi in ((c.art_mmhg, 0.1, 0.45), (c.pleth, 0.2, 0.55)):
        ratio = np.median(_pulse_heights(x, r[idx], lo, hi)) / np.median(
            _pulse_heights(x, normal, lo, hi)
        )
        assert ratio < 0.5


def test_pac_non_compensatory_pause_and_reduced_pulse(ectopic: ph.VitalCaseSignals) -> None:
    c, r = ectopic, ectopic.r_peaks_s
    idx = _neighbours(c, rh.PAC)
    assert len(idx) >= 3
    normal_rr = np.array([r[i - 1] - r[i - 2] for i in idx])
    coupling = np.array([r[i] - r[i - 1] for i in idx]) / normal_rr
    around = np.array([r[i + 1] - r[i - 1] for i in idx]) / normal_rr
    assert np.all((coupling > 0.55) & (coupling < 0.95))
    assert np.all(around < 2.0) and np.mean(around) < 1.9
    normal = r[[i - 1 for i in idx]]
    ratio = np.median(_pulse_heights(c.art_mmhg, r[idx], 0.1, 0.45)) / np.median(
        _pulse_heights(c.art_mmhg, normal, 0.1, 0.45)
    )
    assert 0.3 < ratio < 0.95


def test_build_rhythm_without_pathology_returns_the_sinus_beats() -> None:
    sinus = np.cumsum(np.full(100, 0.8)) - 4.0
    out = rh.build_rhythm(sinus, 70.0, 0.0, 0.0, [], np.random.default_rng(0))
    assert np.array_equal(out.beats, sinus) and out.is_sinus and not out.events


@pytest.fixture(scope="module")
def af_case() -> ph.VitalCaseSignals:
    return _case(2, duration_s=180.0, n_af_episodes=1)


def test_af_is_irregular_faster_without_p_waves(af_case: ph.VitalCaseSignals) -> None:
    c, r, kinds = af_case, af_case.r_peaks_s, af_case.beat_types
    (af,) = [e for e in c.events if e.kind == "af"]
    assert 45.0 <= af.end_s - af.start_s <= 110.0  # 1-5 min, shrunk to fit 3 min
    in_af = kinds == rh.AF
    assert np.all((r[in_af] >= af.start_s) & (r[in_af] < af.end_s))
    assert not np.any((kinds == rh.SINUS) & (r > af.start_s) & (r < af.end_s))
    rr = np.diff(r)
    rr_af = rr[in_af[1:] & in_af[:-1]]
    rr_sinus = rr[(kinds[1:] == rh.SINUS) & (kinds[:-1] == rh.SINUS)]
    assert rr_af.std() / rr_af.mean() > 0.12 > 2 * rr_sinus.std() / rr_sinus.mean()
    assert 60 / rr_af.mean() > 1.05 * 60 / rr_sinus.mean()
    # successive AF intervals are unrelated (irregularly irregular), sinus ones are smooth
    assert abs(np.corrcoef(rr_af[1:], rr_af[:-1])[0, 1]) < 0.35

    def p_template(beats: np.ndarray) -> float:
        segs = [c.ecg_mv[round((t - 0.25) * FS) : round((t - 0.08) * FS)] for t in beats]
        mean = np.mean(segs, axis=0)
        return float(np.ptp(mean - np.linspace(mean[0], mean[-1], mean.size)))

    long_af = r[1:][in_af[1:] & (rr > 0.75)]
    assert long_af.size >= 5
    sinus = r[(kinds == rh.SINUS) & (r > 1) & (r < c.r_peaks_s[-1] - 1)]
    assert p_template(long_af) < 0.4 * p_template(sinus)


def test_af_pulse_follows_the_preceding_interval(af_case: ph.VitalCaseSignals) -> None:
    c, r = af_case, af_case.r_peaks_s
    i = np.flatnonzero(c.beat_types == rh.AF)
    i = i[(i > 0) & (i < r.size - 1)]
    i = i[r[i + 1] - r[i] > 0.45]  # the next beat does not cut the pulse short
    heights = _pulse_heights(c.art_mmhg, r[i], 0.1, 0.42)
    assert np.corrcoef(r[i] - r[i - 1], heights)[0, 1] > 0.5


def test_f_waves_are_small_and_in_the_4_to_9_hz_band() -> None:
    t = np.arange(round(60 * FS)) / FS
    span = rh.AFSpan(5.0, 55.0, 1.2, 0.2)
    f = rh.f_waves(t, FS, [span], np.random.default_rng(3))
    assert np.all(f[t < 5.0] == 0) and np.all(f[t >= 55.0] == 0)
    assert 0.02 < np.percentile(np.abs(f), 99) < 0.15
    freqs, pxx = signal.welch(f, FS, nperseg=4096)
    assert 4.0 <= freqs[np.argmax(pxx)] <= 9.0


def test_low_perfusion_shrinks_the_pulse_not_the_noise() -> None:
    normal = _case(4, duration_s=120.0)
    low = _case(4, duration_s=120.0, low_perfusion=True)
    band = signal.butter(4, [0.5, 8.0], "bandpass", fs=FS, output="sos")
    high = signal.butter(4, 40.0, "highpass", fs=FS, output="sos")

    def sd(sos: np.ndarray, x: np.ndarray) -> float:
        return float(np.std(signal.sosfiltfilt(sos, x.astype(float))))

    assert 0.08 < sd(band, low.pleth) / sd(band, normal.pleth) < 0.35
    assert 0.8 < sd(high, low.pleth) / sd(high, normal.pleth) < 1.25
    assert np.array_equal(low.ecg_mv, normal.ecg_mv)


def _before(case: ph.VitalCaseSignals, t0: float, t1: float) -> tuple[float, float, float]:
    """Mean MAP numeric, mean HR numeric and PPG pulse size (band-passed std) over [t0, t1)."""
    sel = (case.map_times_s >= t0 + 8) & (case.map_times_s < t1)
    sos = signal.butter(4, [0.5, 8.0], "bandpass", fs=FS, output="sos")
    ppg = signal.sosfiltfilt(sos, case.pleth[round(t0 * FS) : round(t1 * FS)].astype(float))
    return float(case.map_mmhg[sel].mean()), float(case.hr_bpm[sel].mean()), float(ppg.std())


def test_precursor_lowers_map_and_ppg_and_raises_hr_before_the_episode() -> None:
    """Paired: the same case with and without warning signs. The PPG pulse size is taken
    relative to the same case's pulse after the episode, when the slide is over."""
    diffs = []
    for seed in range(4):
        kw = {"duration_s": 400.0, "n_hypotension_episodes": 1, "base_map_mmhg": 95.0}
        warned = _case(10 + seed, precursor_strengths=(1.0,), **kw)
        silent = _case(10 + seed, **kw)
        (ep,) = [e for e in silent.events if e.kind == "hypotension"]
        assert [e.kind for e in warned.events] == ["hypotension"]
        t1 = ep.start_s - 15.0  # before the episode's own ramp
        t0 = max(t1 - 60.0, 0.0)
        post = (ep.end_s + 20.0, 400.0)
        w, s = _before(warned, t0, t1), _before(silent, t0, t1)
        ppg_w = w[2] / _before(warned, *post)[2]
        ppg_s = s[2] / _before(silent, *post)[2]
        diffs.append((s[0] - w[0], w[1] - s[1], ppg_w / ppg_s))
    d = np.array(diffs)
    assert np.all(d[:, 0] > 0) and d[:, 0].mean() > 6.0  # MAP lower by > 6 mmHg
    assert np.all(d[:, 1] > 0) and d[:, 1].mean() > 2.0  # HR higher
    assert np.all(d[:, 2] < 1) and d[:, 2].mean() < 0.9  # PPG pulse smaller


def test_random_precursors_fall_on_average_and_vary() -> None:
    """Strengths drawn by the default case mix: the MAP falls before episodes on average, by
    different amounts, and a share of the episodes comes with (almost) no warning."""
    rng = np.random.default_rng(0)
    many = [ph.random_case_profile(rng, 900.0).precursor_strengths for _ in range(200)]
    s = np.concatenate([np.asarray(m) for m in many if m])
    assert 0.15 < np.mean(s < 0.2) < 0.5 and np.mean(s > 0.6) > 0.3  # weak/none and strong
    drops = []
    for seed, strength in enumerate(s[:8]):
        kw = {"duration_s": 300.0, "n_hypotension_episodes": 1, "base_map_mmhg": 88.0}
        warned = _case(40 + seed, precursor_strengths=(float(strength),), **kw)
        silent = _case(40 + seed, **kw)
        (ep,) = [e for e in silent.events if e.kind == "hypotension"]
        t1 = ep.start_s - 15.0
        t0 = max(t1 - 60.0, 0.0)
        drops.append(_before(silent, t0, t1)[0] - _before(warned, t0, t1)[0])
    d = np.array(drops)
    assert np.all(d > -0.6) and d.mean() > 2.0 and np.ptp(d) > 4.0
    assert np.corrcoef(s[:8], d)[0, 1] > 0.6  # the strength is what varies the warning


def test_false_alarms_dip_but_never_reach_hypotension() -> None:
    seen = 0
    for seed in range(4):
        c = _case(20 + seed, duration_s=300.0, base_map_mmhg=92.0, n_false_alarms=2)
        dips = [e for e in c.events if e.kind == "map_dip"]
        assert not [e for e in c.events if e.kind == "hypotension"]
        assert np.nanmin(c.map_mmhg) > 66.0
        seen += len(dips)
        for d in dips:
            sel = (c.map_times_s > d.start_s) & (c.map_times_s < d.end_s)
            assert np.nanmin(c.map_mmhg[sel]) < 88.0
    assert seen >= 3


def test_hypotension_labels_stay_exact_with_all_pathology() -> None:
    """8 s ART means < 65 inside episodes and > 65 outside, with ectopy, AF and precursors."""
    n_in = n_out = 0
    for seed in range(4):
        prof = _profile(
            300.0,
            base_map_mmhg=78.0,
            n_hypotension_episodes=2,
            pvc_per_min=5.0,
            pac_per_min=3.0,
            n_af_episodes=1,
            precursor_strengths=(1.0, 0.8),
            n_false_alarms=1,
        )
        c = ph.simulate_vital_case(prof, np.random.default_rng(30 + seed))
        hypo = [e for e in c.events if e.kind == "hypotension"]
        assert len(hypo) == 2
        for i in range(0, c.art_mmhg.size - 4000, 4000):
            t0, t1 = i / FS, (i + 4000) / FS
            m = float(np.mean(c.art_mmhg[i : i + 4000]))
            if any(e.start_s + 8 <= t0 and t1 <= e.end_s - 8 for e in hypo):
                assert m < 65.0
                n_in += 1
            elif all(t1 <= e.start_s - 8 or t0 >= e.end_s + 8 for e in hypo):
                assert m > 65.0
                n_out += 1
    assert n_in > 10 and n_out > 10


def test_caller_built_arrhythmic_case_is_clean() -> None:
    """What a quality-gate test builds: 6 PVC/min, AF, no artefacts -- only rhythm events."""
    c = _case(5, duration_s=150.0, pvc_per_min=6.0, n_af_episodes=1)
    kinds = {e.kind for e in c.events}
    assert kinds == {"pvc", "af"} and not kinds & ARTIFACTS
    assert np.isfinite(c.ecg_mv).all() and np.isfinite(c.pleth).all()


def test_pathology_is_deterministic() -> None:
    kw = {"pvc_per_min": 4.0, "pac_per_min": 2.0, "n_af_episodes": 1, "low_perfusion": True}
    kw |= {"n_hypotension_episodes": 1, "precursor_strengths": (0.7,), "n_false_alarms": 1}
    a, b = _case(6, **kw), _case(6, **kw)
    c = _case(7, **kw)
    for f in ("ecg_mv", "pleth", "art_mmhg", "hr_bpm", "map_mmhg", "r_peaks_s", "beat_types"):
        assert np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True)
    assert a.events == b.events and a.events != c.events


def test_case_mix_shares() -> None:
    rng = np.random.default_rng(0)
    mix = ph.CaseMix()
    profs = [ph.random_case_profile(rng, 900.0, mix) for _ in range(400)]
    share = {
        "pvc": np.mean([p.pvc_per_min > 0 for p in profs]),
        "pac": np.mean([p.pac_per_min > 0 for p in profs]),
        "af": np.mean([p.n_af_episodes > 0 for p in profs]),
        "low": np.mean([p.low_perfusion for p in profs]),
        "bis": np.mean([p.has_bis for p in profs]),
    }
    want = {"pvc": 0.3, "pac": 0.3, "af": 0.2, "low": 0.15, "bis": 0.4}
    assert all(abs(share[k] - want[k]) < 0.07 for k in want), share
    rates = [p.pvc_per_min for p in profs if p.pvc_per_min > 0]
    assert min(rates) >= 0.5 and max(rates) <= 6.0 and np.median(rates) < 2.5  # log-uniform
    assert {p.n_af_episodes for p in profs} == {0, 1, 2}
    assert np.mean([p.n_false_alarms for p in profs]) == pytest.approx(0.5, abs=0.15)  # 2/h
    none = ph.CaseMix(
        pvc_fraction=0, pac_fraction=0, af_fraction=0, low_perfusion_fraction=0,
        false_alarms_per_hour=0,
    )  # fmt: skip
    quiet = [ph.random_case_profile(rng, 900.0, none) for _ in range(50)]
    assert not any(p.pvc_per_min or p.pac_per_min or p.n_af_episodes for p in quiet)
    assert not any(p.low_perfusion or p.n_false_alarms for p in quiet)


def _dpop(case: ph.VitalCaseSignals, t0: float, t1: float) -> float:
    """Respiratory variation of the ART pulse pressure over [t0, t1): (max - min) / mean of
    the per-beat pulse pressures, the pleth's dPOP on the arterial line."""
    r = case.r_peaks_s[(case.r_peaks_s >= t0) & (case.r_peaks_s < t1 - 1.0)]
    pp = _pulse_heights(case.art_mmhg.astype(float), r, 0.1, 0.6)
    return float(np.ptp(pp) / pp.mean())


def test_pulse_variation_with_breathing_grows_before_the_episode() -> None:
    """Falling preload deepens the respiratory swing of the pulse (Cannesson et al. 2007):
    paired, the same case with and without warning signs, over the minute before the ramp."""
    ratios = []
    for seed in range(4):
        kw = {"duration_s": 400.0, "n_hypotension_episodes": 1, "base_map_mmhg": 95.0}
        warned = _case(10 + seed, precursor_strengths=(1.0,), **kw)
        silent = _case(10 + seed, **kw)
        (ep,) = [e for e in silent.events if e.kind == "hypotension"]
        t1 = ep.start_s - 15.0
        t0 = max(t1 - 60.0, 0.0)
        ratios.append(_dpop(warned, t0, t1) / _dpop(silent, t0, t1))
    assert np.all(np.array(ratios) > 1.2), ratios


def test_hypotension_episodes_per_case_follow_the_mix() -> None:
    rng = np.random.default_rng(3)
    none = [
        ph.random_case_profile(rng, 1500.0, ph.CaseMix(hypotension_episodes=(0, 0)))
        for _ in range(20)
    ]
    one = [
        ph.random_case_profile(rng, 1500.0, ph.CaseMix(hypotension_episodes=(1, 1)))
        for _ in range(20)
    ]
    default = [ph.random_case_profile(rng, 1500.0) for _ in range(200)]
    assert {p.n_hypotension_episodes for p in none} == {0}
    assert {p.n_hypotension_episodes for p in one} == {1}
    assert {p.n_hypotension_episodes for p in default} == {0, 1, 2, 3}
