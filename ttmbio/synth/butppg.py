"""BUT-PPG-like smartphone records: camera PPG 30 Hz, reference ECG 1000 Hz, 3-axis ACC 100 Hz.

Numpy only. In the real BUT-PPG, two annotators labelled a record 'good' when its PPG lets one
read the heart rate; the phone's accelerometer was recorded but not judged. So here:

* **Quality is a property of the PPG channel.** Every record gets a latent corruption severity
  ``s`` in [0, 1]: clean good records 0-0.12, *borderline* good records (``borderline_fraction``
  of them) 0.15-0.4, poor records 0.35-1. ``s`` acts through one mechanism (poor records: 35 %
  a second one at a third to two thirds of ``s``):

  - ``contact`` -- partial finger contact and changing pressure on the lens: the pulse fades in
    dips (to ``1 - s`` of its amplitude), its shape is compressed (flattened, triangular
    pulses without a notch) and the brightness level shifts in steps of 0.1-0.6 s;
  - ``inband`` -- finger movement on the lens: band-limited 0.5-3 Hz artefacts (inside the
    pulse band) and sometimes a quasi-periodic 0.7-2.5 Hz component, over part or all of the
    record, at 0.8-2.5 ``s`` times the pulse amplitude;
  - ``noise`` -- low SNR: the pulse shrinks to ``1 - 0.85 s`` and sensor noise grows.

* **The accelerometer is only partly related to quality.** Whether the phone moves (walking,
  hand movement, fidgeting) is drawn with ``moving_fraction`` = (share of good, share of poor
  records); a poor record that moves also gets a PPG artefact driven by that movement, a good
  one keeps its PPG (a firm grip). Every record has some hand tremor (8-12 Hz).
* **The ECG is a chest reference** whose noise does not depend on PPG quality (only on movement).
* **Annotators disagree**: :func:`flip_balanced` flips a share of the labels between the classes
  (the dataset's ``label_noise``), keeping the share of good labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ttmbio.synth.waves import (
    ECG_MORPHS,
    GRID_FS,
    GRID_PAD_S,
    HR_LIMITS_BPM,
    N_ECG_MORPHOLOGIES,
    N_PPG_MORPHOLOGIES,
    PPG_MORPHS,
    PulseTrain,
    beats_from_hr,
    ecg_from_beats,
    slow_drift,
    smooth_noise,
)

FS_BUT_PPG = 30.0
FS_BUT_ECG = 1000.0
FS_BUT_ACC = 100.0

MECHANISMS = ("contact", "inband", "noise")
MOTIONS = ("still", "walking", "hand", "fidget")
_MECHANISM_P = np.array([0.35, 0.4, 0.25])
_MOTION_P = np.array([0.35, 0.4, 0.25])  # walking, hand, fidget (for a moving phone)
_CLEAN_S = (0.0, 0.12)
_BORDERLINE_S = (0.15, 0.4)
_POOR_S = (0.35, 1.0)


@dataclass
class ButPPGSignals:
    """One BUT-PPG-like record: PPG 30 Hz, ECG 1000 Hz, ACC 100 Hz [n, 3] in g.

    ``quality`` is the annotated label (what the dataset writes); ``true_quality`` the quality
    the PPG was generated with, ``severity`` its corruption (0-1), ``mechanism`` the main
    corruption (or "none") and ``motion`` the phone's movement ("still", "walking", ...).
    """

    ppg: np.ndarray
    ecg_mv: np.ndarray
    acc_g: np.ndarray
    hr_bpm: float
    quality: int
    true_quality: int = -1
    severity: float = 0.0
    mechanism: str = "none"
    motion: str = "still"


def flip_balanced(rng: np.random.Generator, labels: np.ndarray, share: float) -> np.ndarray:
    """Flip ``share`` of the binary ``labels``, half of the flips in each class.

    The number of ones is kept (as far as the class sizes allow), so flipping the annotated
    labels gives true qualities with the same good share, and vice versa.
    """
    labels = np.asarray(labels, dtype=bool)
    out = labels.copy()
    per_class = round(share * labels.size / 2)
    ones, zeros = np.flatnonzero(labels), np.flatnonzero(~labels)
    k = min(per_class, ones.size, zeros.size)
    if k > 0:
        out[rng.choice(ones, k, replace=False)] = False
        out[rng.choice(zeros, k, replace=False)] = True
    return out


def _gravity(rng: np.random.Generator, max_tilt_rad: float = 0.35) -> np.ndarray:
    """Gravity in device axes for a phone held roughly flat (mostly on +z), in g."""
    tilt, az = rng.uniform(0.0, max_tilt_rad), rng.uniform(0, 2 * np.pi)
    return np.array([np.sin(tilt) * np.cos(az), np.sin(tilt) * np.sin(az), np.cos(tilt)])


def _bursts(
    rng: np.random.Generator,
    t: np.ndarray,
    n_bursts: int,
    width_s: tuple[float, float],
) -> np.ndarray:
    """Sum of smooth bumps (peak 1) at random times: when hands move or fingers press."""
    env = np.zeros_like(t)
    for _ in range(n_bursts):
        c, w = rng.uniform(t[0], t[-1]), rng.uniform(*width_s)
        env = np.maximum(env, np.exp(-0.5 * ((t - c) / (w / 2.355)) ** 2))
    return env


def _band_noise(rng: np.random.Generator, n: int, fs: float, lo: float, hi: float) -> np.ndarray:
    """Unit-variance Gaussian noise band-limited to [lo, hi] Hz (FFT brick wall)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / fs)
    spec[(f < lo) | (f > hi)] = 0.0
    x = np.fft.irfft(spec, n)
    sd = x.std()
    return x / sd if sd > 0 else x


def _phone_motion(
    rng: np.random.Generator, mode: str, t_acc: np.ndarray, t_ppg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Dynamic ACC [n, 3] (g) of a moving phone and a unit-scale PPG drive of that movement."""
    n = t_acc.size
    if mode == "walking":
        f = rng.uniform(1.6, 2.2)
        ph = rng.uniform(0, 2 * np.pi, 3)
        amp = rng.uniform(0.05, 0.4) * np.array([0.5, 0.7, 1.0])
        acc = amp * (
            np.sin(2 * np.pi * f * t_acc[:, None] + ph)
            + 0.4 * np.sin(4 * np.pi * f * t_acc[:, None] + 2 * ph)
        )
        acc += 0.03 * np.stack([smooth_noise(rng, n, FS_BUT_ACC, 8.0) for _ in range(3)], 1)
        sway = smooth_noise(rng, t_ppg.size, FS_BUT_PPG, 0.7)
        return acc, np.sin(2 * np.pi * f * t_ppg + ph[2]) + sway
    if mode == "hand":
        env = _bursts(rng, t_acc, int(rng.integers(1, 4)), (1.0, 4.0))
        lf = np.stack(
            [smooth_noise(rng, n, FS_BUT_ACC, rng.uniform(1.0, 4.0)) for _ in range(3)], 1
        )
        acc = rng.uniform(0.03, 0.25) * env[:, None] * lf
        return acc, np.interp(t_ppg, t_acc, env * lf[:, 2])
    # fidgeting: a few short jolts, each with a slower movement around it
    acc = np.zeros((n, 3))
    drive = np.zeros_like(t_ppg)
    lf = np.stack([smooth_noise(rng, n, FS_BUT_ACC, rng.uniform(0.8, 3.0)) for _ in range(3)], 1)
    for tc in rng.uniform(0.5, t_acc[-1] - 0.5, int(rng.integers(1, 4))):
        bump = np.exp(-0.5 * ((t_acc - tc) / rng.uniform(0.1, 0.3)) ** 2)
        acc += rng.uniform(0.03, 0.25) * bump[:, None] * rng.normal(0.0, 1.0, 3)
        fidget = np.exp(-0.5 * ((t_acc - tc) / rng.uniform(0.5, 1.5)) ** 2)
        acc += rng.uniform(0.02, 0.12) * fidget[:, None] * lf
        drive += np.interp(t_ppg, t_acc, fidget * (lf[:, 2] + 2.0 * bump))
    return acc, drive


@dataclass
class _Corruption:
    """What a mechanism does to the PPG: pulse gain and shape change, additive artefact, noise."""

    gain: np.ndarray
    compress: float  # 0: shape kept ... 1: fully compressed
    additive: np.ndarray
    noise_sd: float


def _corrupt(
    rng: np.random.Generator, mechanism: str, s: float, t: np.ndarray, amp: float
) -> _Corruption:
    n = t.size
    gain, additive = np.ones(n), np.zeros(n)
    compress, noise_sd = 0.0, 0.0
    if mechanism == "contact":
        dips = _bursts(rng, t, int(rng.integers(1, 4)), (1.5, 5.0))
        gain = np.clip(1.0 - s * rng.uniform(0.6, 1.0) * dips, 0.03, 1.0)
        compress = s * rng.uniform(0.5, 1.0)
        for tc in rng.uniform(0.5, t[-1] - 0.5, 1 + rng.poisson(2.0 * s)):
            step = 1.0 / (1.0 + np.exp(-(t - tc) / rng.uniform(0.1, 0.6)))
            additive += rng.choice([-1.0, 1.0]) * s * rng.uniform(0.5, 3.0) * amp * step
    elif mechanism == "inband":
        cover = (
            np.ones(n)
            if rng.random() < 0.4
            else _bursts(rng, t, int(rng.integers(1, 4)), (2.0, 6.0))
        )
        additive = (
            s * rng.uniform(0.8, 2.5) * amp * cover * _band_noise(rng, n, FS_BUT_PPG, 0.5, 3.0)
        )
        if rng.random() < 0.5:
            f = rng.uniform(0.7, 2.5)
            am = 1.0 + 0.3 * smooth_noise(rng, n, FS_BUT_PPG, 0.3)
            wave = np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
            additive += s * rng.uniform(0.5, 1.5) * amp * cover * am * wave
    else:  # low SNR
        gain = np.full(n, 1.0 - 0.85 * s)
        noise_sd = s * rng.uniform(0.15, 0.5) * amp
        additive = noise_sd * smooth_noise(rng, n, FS_BUT_PPG, 5.0)
    return _Corruption(gain, compress, additive, noise_sd)


def _severity(rng: np.random.Generator, good: bool, borderline_fraction: float) -> float:
    if not good:
        return float(_POOR_S[0] + (_POOR_S[1] - _POOR_S[0]) * rng.random() ** 0.8)
    return float(rng.uniform(*(_BORDERLINE_S if rng.random() < borderline_fraction else _CLEAN_S)))


def simulate_butppg_record(
    rng: np.random.Generator,
    good: bool,
    duration_s: float = 10.0,
    base_hr_bpm: float | None = None,
    *,
    label: bool | None = None,
    borderline_fraction: float = 0.3,
    moving_fraction: tuple[float, float] = (0.25, 0.5),
) -> ButPPGSignals:
    """Generate one BUT-PPG-like record whose PPG is of quality ``good``, labelled ``label``.

    ``ppg`` is brightness-like (mean red value of a camera frame, 0-255 scale): blood volume
    *reduces* brightness, so systolic peaks point downwards. ``label`` defaults to ``good``.
    """
    hr0 = float(base_hr_bpm) if base_hr_bpm is not None else float(rng.uniform(50.0, 110.0))
    grid = np.arange(-GRID_PAD_S, duration_s + GRID_PAD_S, 1.0 / GRID_FS)
    resp = np.sin(2 * np.pi * rng.uniform(0.2, 0.3) * grid + rng.uniform(0, 2 * np.pi))
    hr = np.clip(
        hr0
        + rng.uniform(0.5, 3.0) * resp
        + rng.uniform(0.0, 3.0) * slow_drift(rng, grid, (15.0, 60.0), 2),
        *HR_LIMITS_BPM,
    )
    beats = beats_from_hr(grid, hr, rng, jitter_s=0.005)
    inside = beats[(beats >= 0) & (beats < duration_s)]
    hr_ref = float(60.0 / np.mean(np.diff(inside)))

    t_acc = np.arange(round(duration_s * FS_BUT_ACC)) / FS_BUT_ACC
    t_ppg = np.arange(round(duration_s * FS_BUT_PPG)) / FS_BUT_PPG
    moving = rng.random() < moving_fraction[0 if good else 1]
    motion = str(rng.choice(MOTIONS[1:], p=_MOTION_P)) if moving else "still"
    acc = np.tile(_gravity(rng), (t_acc.size, 1))
    acc += rng.normal(0.0, 0.004, acc.shape)
    tremor = rng.uniform(0.002, 0.02)
    acc += tremor * np.stack(
        [_band_noise(rng, t_acc.size, FS_BUT_ACC, 8.0, 12.0) for _ in range(3)], 1
    )
    drive, movement = np.zeros_like(t_ppg), np.zeros_like(t_acc)
    if moving:
        dyn, drive = _phone_motion(rng, motion, t_acc, t_ppg)
        acc += dyn
        movement = np.linalg.norm(dyn, axis=1) / max(float(np.abs(dyn).max()), 1e-9)

    t_ecg = np.arange(round(duration_s * FS_BUT_ECG)) / FS_BUT_ECG
    morph = ECG_MORPHS[rng.integers(N_ECG_MORPHOLOGIES)]
    ecg = ecg_from_beats(t_ecg, beats, morph, np.full(beats.size, rng.uniform(0.8, 1.2)))
    ecg += rng.uniform(0.02, 0.1) * np.interp(t_ecg, grid, resp)
    ecg += rng.normal(0.0, rng.uniform(0.005, 0.015), t_ecg.size)
    if moving:  # electrode motion
        lf = smooth_noise(rng, t_ecg.size, FS_BUT_ECG, rng.uniform(0.5, 3.0))
        ecg += rng.uniform(0.02, 0.15) * np.interp(t_ecg, t_acc, movement) * lf

    feet = beats + rng.uniform(0.2, 0.3)
    shape, _ = PulseTrain(feet, PPG_MORPHS[rng.integers(N_PPG_MORPHOLOGIES)]).shape(t_ppg)
    amp = rng.uniform(1.0, 4.0)
    pulse_amp = amp * (1.0 + 0.05 * np.interp(t_ppg, grid, resp))
    level = rng.uniform(120.0, 230.0) + rng.uniform(0.2, 1.0) * slow_drift(
        rng, t_ppg, (8.0, 30.0), 2
    )
    noise_sd = rng.uniform(0.03, 0.1)

    s = _severity(rng, good, borderline_fraction)
    mechanism = str(rng.choice(MECHANISMS, p=_MECHANISM_P))
    mechanisms = [(mechanism, s)]
    if not good and rng.random() < 0.35:
        other = str(rng.choice([m for m in MECHANISMS if m != mechanism]))
        mechanisms.append((other, s * rng.uniform(0.33, 0.67)))
    gain, additive, compress = np.ones_like(t_ppg), np.zeros_like(t_ppg), 0.0
    for name, strength in mechanisms:
        c = _corrupt(rng, name, strength, t_ppg, amp)
        gain *= c.gain
        additive += c.additive
        compress = max(compress, c.compress)
    if compress > 0:
        g = rng.uniform(2.0, 6.0)
        shape = (1.0 - compress) * shape + compress * np.tanh(g * shape) / np.tanh(g)
    coupling = s * rng.uniform(0.5, 2.0) if not good else rng.uniform(0.0, 0.1)
    additive += coupling * amp * drive
    ppg = level - pulse_amp * gain * shape + additive + rng.normal(0.0, noise_sd, t_ppg.size)
    return ButPPGSignals(
        ppg=ppg.astype(np.float32),
        ecg_mv=ecg.astype(np.float32),
        acc_g=acc.astype(np.float32),
        hr_bpm=hr_ref,
        quality=int(good if label is None else label),
        true_quality=int(good),
        severity=s,
        mechanism=mechanism if s > 0 else "none",
        motion=motion,
    )
