"""Write simulated signals in the real formats: VitalDB ``.vital`` and PhysioNet WFDB.

Nothing here simulates anything; :mod:`ttmbio.synth.physiology` does. Files are written so
that the same input gives byte-identical output (gzip header time zeroed, WFDB without dates).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import vitaldb
import wfdb

from ttmbio.synth.physiology import ButPPGSignals, VitalCaseSignals

# ADC-like quantisation steps (powers of two keep float32 mantissas short, so gzip can work,
# as it does on real SNUADC recordings which are quantised by their converter).
_QUANTUM = {"ecg": 2.0**-12, "pleth": 2.0**-8, "art": 2.0**-6}
_GZIP_MTIME = slice(4, 8)


def _quantise(x: np.ndarray, step: float) -> np.ndarray:
    return (np.round(x / step) * step).astype(np.float32)


def _numeric_recs(dtstart: float, times: np.ndarray, values: np.ndarray) -> list[dict]:
    return [
        {"dt": dtstart + float(t), "val": float(v)}
        for t, v in zip(times, values, strict=True)
        if np.isfinite(v)
    ]


def _zero_gzip_mtime(path: Path) -> None:
    """gzip stores the write time in bytes 4-8; zero it so reruns are byte-identical."""
    with open(path, "r+b") as f:
        f.seek(_GZIP_MTIME.start)
        f.write(b"\0\0\0\0")


def write_vital_case(path: Path, sig: VitalCaseSignals, dtstart: float) -> None:
    """One case as a packed ``.vital`` file with VitalDB's track names and units."""
    vf = vitaldb.VitalFile()
    vf.dtstart, vf.dgmt = dtstart, -540  # KST, as in the open dataset
    waves = (
        ("SNUADC/ECG_II", sig.ecg_mv, "mV", "ecg", -1.0, 2.0),
        ("SNUADC/PLETH", sig.pleth, "", "pleth", 0.0, 100.0),
        ("SNUADC/ART", sig.art_mmhg, "mmHg", "art", 0.0, 200.0),
    )
    for name, values, unit, kind, lo, hi in waves:
        vf.add_track(
            name,
            [{"dt": dtstart, "val": _quantise(values, _QUANTUM[kind])}],
            srate=sig.fs,
            unit=unit,
            mindisp=lo,
            maxdisp=hi,
        )
    vf.add_track(
        "Solar8000/HR",
        _numeric_recs(dtstart, sig.hr_times_s, sig.hr_bpm),
        unit="/min",
        mindisp=0,
        maxdisp=200,
    )
    vf.add_track(
        "Solar8000/ART_MBP",
        _numeric_recs(dtstart, sig.map_times_s, sig.map_mmhg),
        unit="mmHg",
        mindisp=0,
        maxdisp=200,
    )
    if sig.bis is not None and sig.bis_times_s is not None:
        vf.add_track(
            "BIS/BIS", _numeric_recs(dtstart, sig.bis_times_s, sig.bis), mindisp=0, maxdisp=100
        )
    vf.dtend = dtstart + len(sig.ecg_mv) / sig.fs
    # level 1: 8x faster than 6 on these quantised waveforms for 4 % larger files (measured)
    vf.to_vital(str(path), compresslevel=1)
    _zero_gzip_mtime(path)


def write_butppg_record(folder: Path, record_id: str, sig: ButPPGSignals) -> None:
    """``<folder>/<id>/<id>_PPG|_ECG|_ACC`` WFDB records as in BUT-PPG v2 (16-bit format)."""
    out = folder / record_id
    out.mkdir(parents=True, exist_ok=True)
    parts = (
        ("PPG", 30, ["PPG"], ["NU"], sig.ppg[:, None]),
        ("ECG", 1000, ["ECG"], ["mV"], sig.ecg_mv[:, None]),
        ("ACC", 100, ["ACC_X", "ACC_Y", "ACC_Z"], ["g", "g", "g"], sig.acc_g),
    )
    for part, fs, names, units, values in parts:
        wfdb.wrsamp(
            f"{record_id}_{part}",
            fs=fs,
            units=units,
            sig_name=names,
            p_signal=np.asarray(values, dtype=np.float64),
            fmt=["16"] * len(names),
            write_dir=str(out),
        )
