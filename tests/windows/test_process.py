"""Quality gates and labels on simulated recordings with defects injected at known places."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from ttmbio.errors import CaseError
from ttmbio.params import QualityParams, WindowsParams
from ttmbio.sources.base import Recording, Signal
from ttmbio.synth.physiology import CaseProfile, simulate_vital_case
from ttmbio.windows.process import process_recording

PARAMS = WindowsParams()
# half-overlapping windows (the default VitalDB stride is a whole window): each injected
# defect then touches several windows, so "exactly the windows it touches" has teeth
CFG = PARAMS.vitaldb.model_copy(update={"stride": PARAMS.length // 2})
FS = 500.0
RHYTHMS = ("pvc", "pac", "af")  # clean arrhythmia, not artefacts
WIN_S = PARAMS.length / PARAMS.fs  # 8.192 s
STEP_S = CFG.stride / PARAMS.fs  # 4.096 s


def profile(hr: float = 72.0, episodes: int = 0, seconds: float = 240.0) -> CaseProfile:
    return CaseProfile(
        duration_s=seconds,
        base_hr_bpm=hr,
        base_map_mmhg=88.0,
        pulse_pressure_mmhg=50.0,
        ecg_morphology=0,
        ppg_morphology=1,
        resp_rate_bpm=12.0,
        n_hypotension_episodes=episodes,
        artifact_rate_per_min=0.0,
        has_bis=False,
    )


def recording(prof: CaseProfile, seed: int = 0) -> tuple[Recording, object]:
    sig = simulate_vital_case(prof, np.random.default_rng(seed))
    assert [e.kind for e in sig.events if e.kind not in ("hypotension", *RHYTHMS)] == []
    rec = Recording(
        "vitaldb",
        "1",
        "s",
        {
            "ECG": Signal(sig.ecg_mv.copy(), FS),
            "PPG": Signal(sig.pleth.copy(), FS),
            "ABP": Signal(sig.art_mmhg.copy(), FS),
        },
    )
    return rec, sig


def overlapping(block_starts: np.ndarray, t0: float, t1: float) -> np.ndarray:
    return (block_starts < t1) & (block_starts + WIN_S > t0)


@pytest.fixture(scope="module")
def clean() -> tuple[Recording, object]:
    return recording(profile())


def all_starts(rec: Recording) -> np.ndarray:
    seconds = len(rec.signals["ECG"].data) / FS
    return np.arange(0, seconds - WIN_S + 1e-9, STEP_S)


@pytest.mark.parametrize("hr", [48.0, 75.0, 125.0])
def test_clean_windows_all_pass(hr: float) -> None:
    rec, _ = recording(profile(hr=hr), seed=int(hr))
    block = process_recording(rec, CFG, PARAMS)
    assert block.candidates == len(all_starts(rec)) and block.rejected == {}
    assert len(block) == block.candidates
    assert block.signals.shape == (len(block), 3, 1024) and block.signals.dtype == np.float32
    assert np.all(np.abs(block.meta["hr_bpm"] - hr) < 12)
    assert np.all(block.meta["ecg_sqi"] >= PARAMS.quality.sqi_min("ecg_sqi"))
    assert np.all(block.meta["n_cycles"] >= 3)
    assert np.median(block.meta["ecg_sqi"]) == np.median(block.meta["ppg_tsqi"]) == 1.0


def inject(
    rec: Recording, channel: str, t0: float, t1: float, how: str, rng: np.random.Generator
) -> Recording:
    data = rec.signals[channel].data.copy()
    i0, i1 = int(t0 * FS), int(t1 * FS)
    seg = data[i0:i1]
    if how == "flatline":
        data[i0:i1] = seg[0]
    elif how == "disconnect":
        data[i0:i1] = np.nan
    elif how == "clipping":  # a baseline jump into the amplifier's rail
        rail = np.nanmax(data) + 0.01 * np.ptp(data)
        data[i0:i1] = np.minimum(seg + (rail - np.quantile(seg, 0.6)), rail)
    elif how == "noise":  # in-band noise (motion-like) at -3 dB SNR
        band = (0.5, 8.0) if channel == "PPG" else (0.5, 40.0)
        sos = butter(4, band, "bandpass", fs=FS, output="sos")
        noise = sosfiltfilt(sos, rng.normal(size=seg.size))
        data[i0:i1] = seg + noise * 1.4 * np.std(sosfiltfilt(sos, seg)) / np.std(noise)
    signals = {**rec.signals, channel: Signal(data, FS)}
    return Recording(rec.dataset, rec.case_id, rec.subject_id, signals)


@pytest.mark.parametrize(
    ("channel", "how", "gate"),
    [
        ("ECG", "flatline", "flatline"),
        ("PPG", "flatline", "flatline"),
        ("ABP", "clipping", "clipping"),
        ("PPG", "clipping", "clipping"),
        ("ECG", "noise", "ecg_sqi"),
        ("PPG", "noise", "ppg_tsqi"),
        ("ABP", "disconnect", "gap"),
        ("ECG", "disconnect", "gap"),
    ],
)
def test_injected_defects_reject_exactly_the_windows_they_touch(
    clean: tuple[Recording, object], channel: str, how: str, gate: str
) -> None:
    t0, t1 = 100.0, 106.0
    rec = inject(clean[0], channel, t0, t1, how, np.random.default_rng(1))
    block = process_recording(rec, CFG, PARAMS)
    starts = all_starts(rec)
    # a window with half a second of a hard defect, or 3 s of noise, must go
    margin = 3.0 if how == "noise" else 0.5
    touched = overlapping(starts, t0 + margin, t1 - margin)
    kept = np.isin(np.round(starts, 3), np.round(block.meta["start_s"], 3))
    assert touched.sum() >= 2
    assert not kept[touched].any(), f"{how} on {channel} kept {starts[touched & kept]}"
    far = ~overlapping(starts, t0 - 2, t1 + 2)
    assert kept[far].all()
    assert block.rejected[gate] >= touched.sum() - 1, block.rejected
    # every candidate is listed with the first gate it failed, "" for the kept ones
    np.testing.assert_allclose(block.candidate_start_s, starts)
    assert (block.candidate_reason == "").tolist() == kept.tolist()
    assert (block.candidate_reason == gate).sum() == block.rejected[gate]


def test_hypotension_label_follows_mean_abp() -> None:
    rec, _sig = recording(profile(episodes=1, seconds=420.0), seed=3)
    block = process_recording(rec, CFG, PARAMS)
    abp = rec.signals["ABP"].data
    for start, label, mean in zip(
        block.meta["start_s"], block.meta["hypotension"], block.meta["map_mmhg"], strict=True
    ):
        expected = abp[int(start * FS) : int((start + WIN_S) * FS)].mean()
        assert mean == pytest.approx(expected, abs=1.5)
        assert label == int(mean < 65.0)
    assert 0 < block.meta["hypotension"].sum() < len(block)


def test_label_horizon_looks_ahead_and_drops_the_tail() -> None:
    rec, _ = recording(profile(episodes=1, seconds=420.0), seed=3)
    ahead = PARAMS.model_copy(update={"label_horizon_s": 60.0})
    now, later = process_recording(rec, CFG, PARAMS), process_recording(rec, CFG, ahead)
    assert later.meta["start_s"].max() <= 420.0 - WIN_S - 60.0
    onset = now.meta["start_s"][np.argmax(now.meta["hypotension"] == 1)]
    assert later.meta["start_s"][np.argmax(later.meta["hypotension"] == 1)] < onset


def test_recording_shorter_than_a_window_is_a_case_error(clean: tuple[Recording, object]) -> None:
    short = Recording(
        "vitaldb",
        "1",
        "s",
        {k: Signal(v.data[: int(5 * FS)], FS) for k, v in clean[0].signals.items()},
    )
    with pytest.raises(CaseError, match="shorter than one window"):
        process_recording(short, CFG, PARAMS)


def with_signal(rec: Recording, channel: str, sig: Signal) -> Recording:
    return Recording(rec.dataset, rec.case_id, rec.subject_id, {**rec.signals, channel: sig})


@pytest.mark.parametrize(
    ("channel", "make", "reason"),
    [
        ("PPG", lambda s: Signal(np.full_like(s.data, 50.0), s.fs), "channel PPG is flat"),
        ("ECG", lambda s: Signal(s.data[::10].copy(), s.fs / 10), "sampled at 50 Hz, too slow"),
        ("ABP", lambda s: Signal(s.data.copy(), s.fs * 2), "channels disagree in duration"),
        ("PPG", lambda s: Signal(np.full_like(s.data, np.nan), s.fs), "has no finite samples"),
    ],
    ids=["flat", "too-slow", "wrong-rate", "all-nan"],
)
def test_recordings_no_window_of_which_can_be_right_are_refused(
    clean: tuple[Recording, object], channel: str, make, reason: str
) -> None:
    rec, _ = clean
    broken = with_signal(rec, channel, make(rec.signals[channel]))
    with pytest.raises(CaseError, match=reason):
        process_recording(broken, CFG, PARAMS)


def test_a_slower_rate_is_resampled_and_a_flat_channel_passes_without_the_flatline_gate(
    clean: tuple[Recording, object],
) -> None:
    rec, _ = clean
    slow = with_signal(rec, "ECG", Signal(rec.signals["ECG"].data[::5].copy(), FS / 5))
    assert len(process_recording(slow, CFG, PARAMS).meta["start_s"]) > 0
    flat = with_signal(rec, "PPG", Signal(np.full_like(rec.signals["PPG"].data, 50.0), FS))
    no_flatline = CFG.model_copy(update={"gates": ["gap"]})
    assert process_recording(flat, no_flatline, PARAMS).candidates > 0


def _with_quality(**kw: object) -> WindowsParams:
    return PARAMS.model_copy(update={"quality": PARAMS.quality.model_copy(update=kw)})


def test_clean_ectopy_passes_the_morphology_gate_not_the_template_gate() -> None:
    prof = dataclasses.replace(profile(hr=70.0, seconds=120.0), pvc_per_min=8.0)
    rec, sig = recording(prof, seed=5)
    pvc = np.array([e.start_s for e in sig.events if e.kind == "pvc"])
    assert pvc.size >= 10
    new = process_recording(rec, CFG, PARAMS)
    old = process_recording(rec, CFG, _with_quality(ecg_method="template", ppg_method="template"))
    assert new.rejected.total() <= 1, new.rejected
    assert old.rejected["ecg_sqi"] >= 10, old.rejected  # of 28 windows
    # both stores record the SQI their gate thresholded, for every candidate
    assert np.nanmin(old.sqi_all["ecg_sqi"]) < PARAMS.quality.ecg_sqi_min
    assert np.nanmin(new.sqi_all["ecg_sqi"]) >= PARAMS.quality.sqi_min("ecg_sqi")
    assert set(new.candidate_failed) == {"gap", *CFG.gates}


@pytest.mark.parametrize("method", ["bsqi", "template", "morphology"])
def test_every_ecg_method_passes_clean_and_rejects_noise(
    clean: tuple[Recording, object], method: str
) -> None:
    params = _with_quality(ecg_method=method)
    block = process_recording(clean[0], CFG, params)
    assert block.rejected == {}
    noisy = inject(clean[0], "ECG", 60.0, 120.0, "noise", np.random.default_rng(2))
    block = process_recording(noisy, CFG, params)
    starts = all_starts(noisy)
    inside = (starts >= 60.0) & (starts + WIN_S <= 120.0)
    failed = block.candidate_failed["ecg_sqi"]
    assert failed[inside].mean() >= 0.9, (method, block.sqi_all["ecg_sqi"][inside])
    assert not failed[~overlapping(starts, 59.0, 121.0)].any()


def test_quality_thresholds_follow_the_method() -> None:
    q = PARAMS.quality
    assert q.sqi_min("ecg_sqi") == q.ecg_morph_min and q.sqi_min("ppg_tsqi") == q.ppg_morph_min
    t = _with_quality(ecg_method="template", ppg_method="template").quality
    assert (t.sqi_min("ecg_sqi"), t.sqi_min("ppg_tsqi")) == (t.ecg_sqi_min, t.ppg_tsqi_min)
    assert _with_quality(ecg_method="bsqi").quality.sqi_min("ecg_sqi") == q.ecg_bsqi_min
    with pytest.raises(ValueError, match="two different detectors"):
        QualityParams(ecg_bsqi_detectors=("kalidas2017", "kalidas2017"))
    with pytest.raises(ValueError, match="ppg_method"):
        QualityParams(ppg_method="bsqi")
