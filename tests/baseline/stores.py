"""Tiny window stores of a known, learnable task, written with the project's StoreWriter.

Signals are neurokit2's simulated ECG and PPG, band-passed like the windows stage does, cut at
random offsets. In a positive window the PPG pulse is half as tall (as in hypotension), or,
for BUT-PPG, the accelerometer moves (poor quality); everything else is drawn alike.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import neurokit2 as nk
import numpy as np

from ttmbio.signal.filters import FilterSpec, apply, design
from ttmbio.windows.store import StoreWriter

FS = 125.0
LENGTH = 1024
VITALDB = ["PPG", "ECG", "ABP"]
BUTPPG = ["ACC_X", "ACC_Y", "ACC_Z", "PPG", "ECG"]


def band(x: np.ndarray, low: float | None, high: float) -> np.ndarray:
    return apply(design(FilterSpec("butter", 4, low, high), FS), x)


@cache
def source(seconds: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """One long filtered (ECG, PPG) pair that windows are cut from."""
    ecg = nk.ecg_simulate(duration=seconds, sampling_rate=int(FS), heart_rate=72, random_state=3)
    ppg = nk.ppg_simulate(duration=seconds, sampling_rate=int(FS), heart_rate=72, random_state=3)
    return band(ecg, 0.5, 40.0), band(ppg, 0.5, 8.0)


def windows(
    labels: np.ndarray, channels: list[str], rng: np.random.Generator, informative: str = "PPG"
) -> np.ndarray:
    """``[N, C, T]`` windows; the label shows in channel ``informative`` (PPG: pulse height
    halved; ABP: pressure pulse height; ACC: movement), never elsewhere."""
    ecg, ppg = source()
    n = len(labels)
    out = np.zeros((n, len(channels), LENGTH), dtype=np.float32)
    t = np.arange(LENGTH) / FS
    for i, y in enumerate(labels):
        a = int(rng.integers(0, len(ecg) - LENGTH))
        positive = y == 1
        gain = rng.uniform(0.8, 1.2)
        for c, name in enumerate(channels):
            if name == "ECG":
                x = ecg[a : a + LENGTH] * rng.uniform(0.8, 1.2)
            elif name == "PPG":
                half = informative == "PPG" and positive
                x = ppg[a : a + LENGTH] * gain * (0.5 if half else 1.0) * 20.0
            elif name == "ABP":
                tall = 2.0 if informative == "ABP" and positive else 1.0
                x = 80.0 + 15.0 * tall * ppg[a : a + LENGTH] / np.std(ppg)
            else:  # ACC_*: gravity on z, movement when the label says so
                still = 1.0 if name == "ACC_Z" else 0.0
                moves = informative == "ACC" and positive
                x = still + (0.3 * np.sin(2 * np.pi * rng.uniform(1.0, 3.0) * t) if moves else 0)
            out[i, c] = x + rng.normal(0.0, 0.02 * (np.std(x) + 1e-3), LENGTH)
    return out


def write_split(
    path: Path,
    labels: np.ndarray,
    channels: list[str],
    target: str,
    seed: int,
    per_subject: int = 6,
    informative: str = "PPG",
) -> None:
    """A store of ``labels`` (int8; -1 = excluded) in subjects of ``per_subject`` windows."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    subjects = np.array([f"s{seed}-{i // per_subject}" for i in range(n)])
    meta = {
        "case_id": np.char.add(subjects, "-c").astype(str),
        "subject_id": subjects.astype(str),
        "start_s": (np.arange(n) % per_subject * 4.096).astype(np.float64),
        target: np.asarray(labels, dtype=np.int8),
        "ecg_sqi": rng.uniform(0.9, 1.0, n).astype(np.float32),
        "ppg_tsqi": rng.uniform(0.9, 1.0, n).astype(np.float32),
    }
    writer = StoreWriter(
        path,
        channels,
        LENGTH,
        FS,
        {k: (str if v.dtype.kind == "U" else v.dtype) for k, v in meta.items()},
        64,
        16,
        attrs={"dataset": "vitaldb" if "ABP" in channels else "butppg", "split": path.stem},
    )
    writer.append(windows(labels, channels, rng, informative), meta)
    writer.close()


def labels_of(n: int, seed: int, excluded: int = 0) -> np.ndarray:
    """Alternating 0/1 labels in a shuffled order, ``excluded`` of them -1."""
    y = (np.arange(n) % 2).astype(np.int8)
    rng = np.random.default_rng(seed)
    rng.shuffle(y)
    y[rng.choice(n, excluded, replace=False)] = -1
    return y


def write_task(
    folder: Path,
    channels: list[str],
    target: str,
    sizes: tuple[int, int, int] = (96, 48, 48),
    excluded: int = 6,
    informative: str = "PPG",
) -> Path:
    """``folder/{train,val,test}.zarr`` of one dataset; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, (split, n) in enumerate(zip(("train", "val", "test"), sizes, strict=True)):
        y = labels_of(n, seed=10 + k, excluded=excluded)
        write_split(folder / f"{split}.zarr", y, channels, target, 20 + k, informative=informative)
    return folder
