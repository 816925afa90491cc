"""Block processing gives the bytes of whole-recording processing; segments bound the peaks."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from ttmbio.params import WindowsParams
from ttmbio.signal.resample import resample
from ttmbio.sources.base import Recording, Signal
from ttmbio.synth.physiology import CaseProfile, simulate_vital_case
from ttmbio.windows.blocks import plan_blocks
from ttmbio.windows.process import WindowBlock, process_recording

SEGMENT_S = 60.0  # short segments and blocks so a 10-minute recording crosses many of each


def _recording() -> Recording:
    """Ten minutes with ectopy, AF, artefacts, hypotension and a gap across a block border;
    PPG at 100 Hz, so blocks must start where its polyphase pattern starts."""
    profile = CaseProfile(
        duration_s=600.0,
        base_hr_bpm=85.0,
        base_map_mmhg=80.0,
        pulse_pressure_mmhg=45.0,
        ecg_morphology=1,
        ppg_morphology=2,
        resp_rate_bpm=14.0,
        n_hypotension_episodes=1,
        artifact_rate_per_min=3.0,
        has_bis=False,
        pvc_per_min=4.0,
        pac_per_min=2.0,
        n_af_episodes=1,
    )
    sig = simulate_vital_case(profile, np.random.default_rng(11))
    ecg = sig.ecg_mv.copy()
    ecg[round(118.5 * 500) : round(125.25 * 500)] = np.nan  # spans the 120 s block border
    return Recording(
        "vitaldb",
        "1",
        "s",
        {
            "ECG": Signal(ecg, 500.0),
            "PPG": Signal(resample(sig.pleth, 500.0, 100.0), 100.0),
            "ABP": Signal(sig.art_mmhg.copy(), 500.0),
        },
    )


@pytest.fixture(scope="module")
def rec() -> Recording:
    return _recording()


def _params(block_s: float | None, **kw: object) -> WindowsParams:
    return WindowsParams(peak_segment_s=SEGMENT_S, block_s=block_s, **kw)


def _assert_same(a: WindowBlock, b: WindowBlock) -> None:
    assert a.signals.tobytes() == b.signals.tobytes()
    assert a.meta.keys() == b.meta.keys()
    for key in a.meta:
        assert a.meta[key].dtype == b.meta[key].dtype
        assert a.meta[key].tobytes() == b.meta[key].tobytes(), key
    assert (a.candidates, a.rejected) == (b.candidates, b.rejected)
    for key in a.sqi_all:
        assert a.sqi_all[key].tobytes() == b.sqi_all[key].tobytes(), key
    assert np.array_equal(a.candidate_reason, b.candidate_reason)
    assert a.candidate_failed.keys() == b.candidate_failed.keys()
    for gate in a.candidate_failed:
        assert np.array_equal(a.candidate_failed[gate], b.candidate_failed[gate]), gate


@pytest.mark.parametrize("block_s", [SEGMENT_S, 2 * SEGMENT_S])
def test_blocks_give_the_bytes_of_whole_recording_processing(
    rec: Recording, block_s: float
) -> None:
    params = _params(None)
    cfg = params.vitaldb.model_copy(update={"stride": 512})  # half-overlapping windows
    whole = process_recording(rec, cfg, params)
    blocked = process_recording(rec, cfg, _params(block_s))
    assert len(plan_blocks(rec, cfg, _params(block_s)).blocks) == round(600 / block_s)
    # the case is not trivial: windows kept and rejected, every label present
    assert 0 < len(whole) < whole.candidates and len(whole.rejected) >= 3
    assert set(np.unique(whole.meta["hypotension"])) == {0, 1}
    assert {0, 1} <= set(np.unique(whole.meta["hypotension_forecast"]))
    _assert_same(whole, blocked)


def test_blocks_keep_the_bytes_with_a_label_horizon_and_other_quality_methods(
    rec: Recording,
) -> None:
    quality = {"ecg_method": "bsqi", "ppg_method": "template"}
    params = _params(None, label_horizon_s=30.0, quality=quality)
    cfg = params.vitaldb.model_copy(update={"gates": [*params.vitaldb.gates, "ppg_ssqi"]})
    whole = process_recording(rec, cfg, params)
    assert whole.candidates < process_recording(rec, cfg, _params(None)).candidates
    _assert_same(
        whole,
        process_recording(
            rec, cfg, _params(SEGMENT_S, **{"label_horizon_s": 30.0, "quality": quality})
        ),
    )


def test_a_windows_beats_do_not_depend_on_the_recording_after_its_segment(
    rec: Recording,
) -> None:
    """The first two segments' windows get the same SQIs from the whole ten minutes as from
    the first four: their detectors never see further than 10 s past a segment."""
    params = _params(None)
    cfg = params.vitaldb
    short = Recording(
        rec.dataset,
        rec.case_id,
        rec.subject_id,
        {c: Signal(s.data[: round(240 * s.fs)], s.fs) for c, s in rec.signals.items()},
    )
    whole, part = process_recording(rec, cfg, params), process_recording(short, cfg, params)
    first = whole.candidate_start_s < 2 * SEGMENT_S
    assert first.sum() == (part.candidate_start_s < 2 * SEGMENT_S).sum() > 10
    for key in ("hr_bpm", "ecg_sqi", "ppg_tsqi", "n_cycles"):
        n = int(first.sum())
        assert whole.sqi_all[key][:n].tobytes() == part.sqi_all[key][:n].tobytes(), key


def test_a_block_that_is_not_a_whole_number_of_segments_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"block_s \(900\) must be a multiple"):
        WindowsParams(peak_segment_s=600.0, block_s=900.0)
    assert WindowsParams(peak_segment_s=600.0, block_s=1800.0).block_s == 1800.0


def test_a_last_block_that_holds_no_window_start(rec: Recording) -> None:
    """545 s in 60 s blocks: the last block (540-545 s) starts no window, but its seconds of
    MAP still count for the forecast labels of the windows before it."""
    short = Recording(
        rec.dataset,
        rec.case_id,
        rec.subject_id,
        {c: Signal(s.data[: round(545 * s.fs)], s.fs) for c, s in rec.signals.items()},
    )
    params = _params(SEGMENT_S)
    plan = plan_blocks(short, params.vitaldb, params)
    assert len(plan.block_starts(plan.blocks[-1])) == 0
    _assert_same(
        process_recording(short, params.vitaldb, _params(None)),
        process_recording(short, params.vitaldb, params),
    )


def test_spilled_windows_are_the_windows_kept_in_memory(rec: Recording, tmp_path) -> None:
    """The windows stage spills each block's kept windows to a file as the block is done."""
    cfg = WindowsParams().vitaldb
    held = process_recording(rec, cfg, _params(SEGMENT_S))
    spilled = process_recording(rec, cfg, _params(SEGMENT_S), spill=tmp_path)
    assert spilled.signals.path.parent == tmp_path
    assert len(spilled) == len(held) > 0
    assert np.asarray(spilled.signals).tobytes() == held.signals.tobytes()
    for key in held.meta:
        assert spilled.meta[key].tobytes() == held.meta[key].tobytes(), key
