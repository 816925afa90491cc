"""The embedded default glucose dataset: virtual type-1 diabetes patients from simglucose.

simglucose (Xie 2018) implements the FDA-accepted UVA/Padova T1D simulator (Dalla Man et al.
2007/2014) with its 30 virtual patients, a CGM noise model and a basal-bolus controller. We run
each patient for ``days`` under random daily meals, derive carbs/insulin on board the way
open-source closed-loop systems do, punch sensor dropouts into the CGM trace and write one CSV
in the layout of the public T1D forecasting sets (``p_num``, ``bg_mM``, ``cob``, ``iob``...).

Every patient draws its seeds from ``SeedSequence([seed, index])`` and results are collected in
patient order, so the file is byte-identical whatever the number of worker processes.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from ttmbio.atomic import atomic_write_text
from ttmbio.parallel import ordered_map
from ttmbio.params import GlucoseSynthParams

COHORTS = ("adolescent", "adult", "child")
# interleaved by cohort, so the first n patients always mix ages and body weights
PATIENTS: list[str] = [f"{cohort}#{k:03d}" for k in range(1, 11) for cohort in COHORTS]
COLUMNS = ["datetime", "p_num", "bg_mM", "cob", "iob", "dose_units", "carbs_g"]

MGDL_PER_MMOL = 18.0
START = datetime(2024, 1, 1)  # a fixed clock keeps the file reproducible
SENSOR, PUMP = "GuardianRT", "Insulet"  # GuardianRT samples every 5 min
IOB_PEAK_MIN = 75.0  # oref0 "rapid-acting" curve
IOB_DIA_MIN = 360.0  # duration of insulin action: 6 h
CARB_ABSORPTION_MIN = 180.0  # carbs absorbed linearly over 3 h
MAX_SAMPLE_MIN = 60  # simglucose's CGM noise model interpolates 15-min noise over 150 min
# simglucose ends an episode (``done``) once plasma BG leaves this range: past it the model is
# no physiology (below 10 mg/dL its glucose state collapses to 0 and the CGM sits at 39 for ever)
VALID_BG_MGDL = (10.0, 600.0)


# --------------------------------------------------------------------------- simglucose


@functools.cache
def _simglucose() -> SimpleNamespace:
    """Import simglucose lazily: it drags in gym and matplotlib and warns about pkg_resources."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        warnings.simplefilter("ignore", DeprecationWarning)
        from simglucose.actuator.pump import InsulinPump
        from simglucose.controller.basal_bolus_ctrller import BBController
        from simglucose.controller.base import Action
        from simglucose.patient.t1dpatient import T1DPatient
        from simglucose.sensor.cgm import SENSOR_PARA_FILE, CGMSensor
        from simglucose.simulation.env import T1DSimEnv
        from simglucose.simulation.scenario_gen import RandomScenario
        from simglucose.simulation.sim_engine import SimObj
    return SimpleNamespace(
        Action=Action,
        BBController=BBController,
        CGMSensor=CGMSensor,
        InsulinPump=InsulinPump,
        RandomScenario=RandomScenario,
        SENSOR_PARA_FILE=SENSOR_PARA_FILE,
        SimObj=SimObj,
        T1DPatient=T1DPatient,
        T1DSimEnv=T1DSimEnv,
    )


class _PatientConstants:
    """What simglucose's basal-bolus controller looks up for one patient, looked up once."""

    def __init__(self, controller: Any, name: str) -> None:
        rows = controller.quest.Name.str.match(name)
        if any(rows):
            params = controller.patient_params[controller.patient_params.Name.str.match(name)]
            self.cr = controller.quest[rows].CR.values
            self.cf = controller.quest[rows].CF.values
            self.u2ss, self.bw = params.u2ss.values.item(), params.BW.values.item()
        else:  # simglucose's defaults for an unknown patient
            self.cr, self.cf = np.array([1 / 15]), np.array([1 / 50])
            self.u2ss, self.bw = 1.43, 57.0


def _fast_controller(sg: SimpleNamespace) -> Any:
    """simglucose's ``BBController`` with its per-patient table lookups done once.

    ``BBController._bb_policy`` regex-matches the patient name in two pandas tables at every
    5-minute step (~30 % of a simulation); this subclass keeps the matched values and then
    runs the very same arithmetic on the very same one-element arrays, so every action is
    bit-identical (test).
    """

    class FastBBController(sg.BBController):
        def __init__(self) -> None:
            super().__init__()
            self._constants: dict[str, _PatientConstants] = {}

        def _bb_policy(self, name: str, meal: float, glucose: float, env_sample_time: float):
            c = self._constants.get(name) or self._constants.setdefault(
                name, _PatientConstants(self, name)
            )
            basal = c.u2ss * c.bw / 6000  # U/min
            if meal > 0:
                bolus = (
                    (meal * env_sample_time) / c.cr
                    + (glucose > 150) * (glucose - self.target) / c.cf
                ).item()  # U
            else:
                bolus = 0
            return sg.Action(basal=basal, bolus=bolus / env_sample_time)

    return FastBBController()


class FastParams:
    """A patient's parameter Series as plain attributes, holding the very same values.

    ``T1DPatient.model`` reads ~40 parameters as ``params.kabs`` on every ODE evaluation;
    pandas attribute access makes that ~85 % of simglucose's run time. Plain attributes give
    identical numbers several times faster. ``iloc`` stays the Series' own because
    ``T1DPatient.reset`` slices the initial state with ``params.iloc[2:15]``.
    """

    def __init__(self, series: pd.Series) -> None:
        self.__dict__.update(series.to_dict())
        self.iloc = series.iloc


def _fast_model(
    t: float, x: np.ndarray, action: Any, params: Any, last_Qsto: float, last_foodtaken: float
) -> np.ndarray:
    """``T1DPatient.model`` (the UVA/Padova ODE's right-hand side) on Python floats.

    simglucose indexes the state array at every use, so each of the ~30,000 evaluations per
    simulated day does its arithmetic on numpy scalars, ~6x slower than on floats. This is
    the very same arithmetic, term by term and in the same order, on ``x.tolist()``: IEEE
    doubles either way, so the simulation is bit-identical (test) and ~2x faster. Only the
    debug log line, formatted at every step even when debug logging is off, is skipped.
    """
    x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12 = x.tolist()
    d = action.CHO * 1000  # g -> mg
    insulin = action.insulin * 6000 / params.BW  # U/min -> pmol/kg/min
    qsto = x0 + x1
    Dbar = last_Qsto + last_foodtaken * 1000  # mg
    d0 = -params.kmax * x0 + d
    if Dbar > 0:
        aa = 5 / (2 * Dbar * (1 - params.b))
        cc = 5 / (2 * Dbar * params.d)
        kgut = params.kmin + (params.kmax - params.kmin) / 2 * (
            np.tanh(aa * (qsto - params.b * Dbar)) - np.tanh(cc * (qsto - params.d * Dbar)) + 2
        )
    else:
        kgut = params.kmax
    d1 = params.kmax * x0 - x1 * kgut
    d2 = kgut * x1 - params.kabs * x2
    Rat = params.f * params.kabs * x2 / params.BW
    EGPt = params.kp1 - params.kp2 * x3 - params.kp3 * x8
    Uiit = params.Fsnc
    Et = params.ke1 * (x3 - params.ke2) if x3 > params.ke2 else 0
    d3 = max(EGPt, 0) + Rat - Uiit - Et - params.k1 * x3 + params.k2 * x4
    d3 = (x3 >= 0) * d3
    Vmt = params.Vm0 + params.Vmx * x6
    Kmt = params.Km0
    Uidt = Vmt * x4 / (Kmt + x4)
    d4 = -Uidt + params.k1 * x3 - params.k2 * x4
    d4 = (x4 >= 0) * d4
    d5 = -(params.m2 + params.m4) * x5 + params.m1 * x9 + params.ka1 * x10 + params.ka2 * x11
    It = x5 / params.Vi
    d5 = (x5 >= 0) * d5
    d6 = -params.p2u * x6 + params.p2u * (It - params.Ib)
    d7 = -params.ki * (x7 - It)
    d8 = -params.ki * (x8 - x7)
    d9 = -(params.m1 + params.m30) * x9 + params.m2 * x5
    d9 = (x9 >= 0) * d9
    d10 = insulin - (params.ka1 + params.kd) * x10
    d10 = (x10 >= 0) * d10
    d11 = params.kd * x10 - params.ka2 * x11
    d11 = (x11 >= 0) * d11
    d12 = -params.ksc * x12 + params.ksc * x3
    d12 = (x12 >= 0) * d12
    return np.array([d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10, d11, d12], dtype=float)


def patient_id(name: str) -> str:
    """``"adult#001"`` -> ``"adult_001"``: no ``#`` in ids that end up in paths and columns."""
    return name.replace("#", "_")


def _sensor(sg: SimpleNamespace, sample_min: int, seed: int) -> Any:
    """The GuardianRT CGM (noise model and limits) sampling every ``sample_min`` minutes."""
    table = pd.read_csv(sg.SENSOR_PARA_FILE)
    params = table.loc[table.Name == SENSOR].squeeze().copy()
    params["sample_time"] = float(sample_min)
    return sg.CGMSensor(params, seed=seed)


def _n_steps(days: float, sample_min: int) -> int:
    steps = round(days * 24 * 60 / sample_min)
    if steps < 1:
        raise ValueError(f"days={days} is shorter than one sample of {sample_min} min")
    return steps


def _run_simglucose(
    name: str, steps: int, seed: int, sample_min: int, fast_params: bool
) -> pd.DataFrame:
    """simglucose's own results table: Time index, CGM (mg/dL), CHO (g/min), insulin (U/min)."""
    sg = _simglucose()
    patient_seed, sensor_seed, scenario_seed = (
        int(s) for s in np.random.SeedSequence(seed).generate_state(3)
    )
    patient = sg.T1DPatient.withName(name, random_init_bg=True, seed=patient_seed)
    if fast_params:
        patient._params = FastParams(patient._params)
        patient.model = _fast_model  # reset() builds the ODE solver from it
    env = sg.T1DSimEnv(
        patient,
        _sensor(sg, sample_min, sensor_seed),
        sg.InsulinPump.withName(PUMP),
        sg.RandomScenario(start_time=START, seed=scenario_seed),
    )
    controller = _fast_controller(sg) if fast_params else sg.BBController()
    sim = sg.SimObj(
        env, controller, timedelta(minutes=steps * sample_min), animate=False, path=None
    )
    sim.simulate()
    # row k holds the CGM at its time and the actions over the following step; the last
    # row has a reading but no action yet, so it is dropped
    return sim.results().iloc[:steps]


def simulate_patient(
    name: str, days: float, seed: int, sample_min: int = 5, *, fast_params: bool = True
) -> pd.DataFrame:
    """One patient's run, no gaps. Columns COLUMNS (p_num = a short id like "adolescent_001").

    ``carbs_g`` is the meal logged in the step it starts (simglucose's patient then eats it at
    5 g/min); ``dose_units`` is all insulin delivered in the step, basal included. Readings
    from the step simglucose would end the episode on (see VALID_BG_MGDL) are NaN: a virtual
    patient driven into severe hypoglycaemia by the basal-bolus controller does not recover.
    ``fast_params=False`` runs simglucose unpatched (slow; kept to check the patches:
    :class:`FastParams`, :func:`_fast_model` and :func:`_fast_controller`).
    """
    if name not in PATIENTS:
        raise ValueError(f"unknown simglucose patient {name!r}; known: {PATIENTS}")
    if not 1 <= sample_min <= MAX_SAMPLE_MIN:
        raise ValueError(f"sample_min must be in 1..{MAX_SAMPLE_MIN}, got {sample_min}")
    results = _run_simglucose(name, _n_steps(days, sample_min), seed, sample_min, fast_params)
    carbs = np.round(results["CHO"].to_numpy(float) * sample_min, 4)  # g/min -> g per step
    dose = results["insulin"].to_numpy(float) * sample_min  # U/min -> U per step
    # the simulator starts in basal steady state: count that basal as already on board
    basal = float(dose.min())
    return pd.DataFrame(
        {
            "datetime": pd.to_datetime(results.index),
            "p_num": patient_id(name),
            "bg_mM": _valid_readings(results["CGM"].to_numpy(float), results["BG"].to_numpy()),
            "cob": carbs_on_board(carbs, sample_min),
            "iob": insulin_on_board(dose, sample_min, steady_dose=basal),
            "dose_units": dose,
            "carbs_g": carbs,
        },
        columns=COLUMNS,
    ).reset_index(drop=True)


def _valid_readings(cgm_mgdl: np.ndarray, bg_mgdl: np.ndarray) -> np.ndarray:
    """CGM in mmol/L, NaN from the first step with plasma BG outside VALID_BG_MGDL on."""
    low, high = VALID_BG_MGDL
    ended = np.logical_or.accumulate((bg_mgdl < low) | (bg_mgdl > high))
    return np.where(ended, np.nan, np.round(cgm_mgdl / MGDL_PER_MMOL, 4))


# --------------------------------------------------------------------------- on board


def exponential_iob_fraction(
    minutes: np.ndarray, peak_min: float = IOB_PEAK_MIN, dia_min: float = IOB_DIA_MIN
) -> np.ndarray:
    """Fraction of a bolus still on board ``minutes`` after it, OpenAPS exponential curve.

    The insulin activity curve of Dragan Maksimovic (LoopKit/Loop#388), as implemented in
    oref0 ``lib/iob/calculate.js`` (``iobCalcExponential``), with ``td`` the duration of
    insulin action and ``tp`` the peak time::

        tau = tp (1 - tp/td) / (1 - 2 tp/td)      a = 2 tau / td
        S   = 1 / (1 - a + (1 + a) exp(-td/tau))
        IOB(t) = 1 - S (1 - a) ((t^2 / (tau td (1 - a)) - t/tau - 1) exp(-t/tau) + 1)

    for 0 <= t < td, 0 afterwards; IOB(0) = 1 and IOB(td) = 0.
    """
    if not 0 < peak_min < dia_min / 2:
        raise ValueError(f"need 0 < peak ({peak_min}) < duration/2 ({dia_min / 2}) min")
    t = np.asarray(minutes, dtype=float)
    tau = peak_min * (1 - peak_min / dia_min) / (1 - 2 * peak_min / dia_min)
    a = 2 * tau / dia_min
    s = 1 / (1 - a + (1 + a) * math.exp(-dia_min / tau))
    inner = (t**2 / (tau * dia_min * (1 - a)) - t / tau - 1) * np.exp(-t / tau) + 1
    fraction = 1 - s * (1 - a) * inner
    return np.where(t < dia_min, np.clip(fraction, 0.0, 1.0), 0.0)


def _on_board(amounts: np.ndarray, remaining: np.ndarray, steady: float) -> np.ndarray:
    """Sum of earlier amounts weighted by what remains of each: a causal convolution.

    ``steady`` is a per-step amount assumed to have been given for ever before the series.
    """
    x = np.asarray(amounts, dtype=float)
    lead = len(remaining) - 1
    padded = np.concatenate([np.full(lead, float(steady)), x])
    return np.clip(np.convolve(padded, remaining)[lead : lead + len(x)], 0.0, None)


def insulin_on_board(
    dose_units: np.ndarray,
    sample_min: int = 5,
    *,
    steady_dose: float = 0.0,
    peak_min: float = IOB_PEAK_MIN,
    dia_min: float = IOB_DIA_MIN,
) -> np.ndarray:
    """IOB (U) at each step, the step's own dose included (see exponential_iob_fraction)."""
    remaining = exponential_iob_fraction(np.arange(0.0, dia_min, sample_min), peak_min, dia_min)
    return _on_board(dose_units, remaining, steady_dose)


def carbs_on_board(
    carbs_g: np.ndarray, sample_min: int = 5, absorption_min: float = CARB_ABSORPTION_MIN
) -> np.ndarray:
    """COB (g) at each step, the step's own meal included, with linear absorption.

    A meal of C grams leaves C (1 - t/absorption_min) on board t minutes later, 0 from
    ``absorption_min`` on: the simple linear model of oref0's default carb absorption.
    """
    t = np.arange(0.0, absorption_min, sample_min)
    return _on_board(carbs_g, 1.0 - t / absorption_min, 0.0)


# --------------------------------------------------------------------------- gaps


def _sample_minutes(df: pd.DataFrame) -> float:
    steps = df["datetime"].diff().dropna()
    return float(steps.median().total_seconds() / 60) if len(steps) else 5.0


def _gap_rows(n_rows: int, lengths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices of non-overlapping gaps with at least one reading between two gaps.

    The separation keeps every NaN run one gap, so run lengths stay within ``gap_minutes``.
    """
    while len(lengths) and lengths.sum() + len(lengths) - 1 > n_rows:
        lengths = lengths[:-1]  # more gaps than the series can hold: drop the extra ones
    if not len(lengths):
        return np.array([], dtype=int)
    free = n_rows - int(lengths.sum()) - (len(lengths) - 1)
    offsets = np.sort(rng.integers(0, free + 1, size=len(lengths)))
    starts = offsets + np.concatenate([[0], np.cumsum(lengths[:-1] + 1)])
    return np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths, strict=True)])


def add_gaps(
    df: pd.DataFrame,
    gaps_per_day: float,
    gap_minutes: tuple[float, float],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Sensor dropouts: runs of NaN in bg_mM only (rows stay, timestamps stay regular).

    Per patient: Poisson(gaps_per_day * days) gaps, each uniform in ``gap_minutes`` (rounded
    to whole samples, at least one), placed uniformly without overlapping.
    """
    out = df.copy()
    bg = out["bg_mM"].to_numpy(dtype=float, copy=True)
    for rows in out.groupby("p_num", sort=False).indices.values():
        part = out.iloc[rows]
        sample_min = _sample_minutes(part)
        days = len(part) * sample_min / (24 * 60)
        count = int(rng.poisson(gaps_per_day * days))
        minutes = rng.uniform(gap_minutes[0], gap_minutes[1], size=count)
        lengths = np.maximum(1, np.round(minutes / sample_min)).astype(int)
        bg[rows[_gap_rows(len(rows), lengths, rng)]] = np.nan
    out["bg_mM"] = bg
    return out


# --------------------------------------------------------------------------- dataset


@dataclass(frozen=True)
class _PatientTask:
    """Everything one worker needs for one patient (picklable)."""

    name: str
    index: int
    seed: int
    days: float
    sample_min: int
    gaps_per_day: float
    gap_minutes: tuple[float, float]


def _simulate_task(task: _PatientTask) -> pd.DataFrame:
    sim_seed, gap_seed = (
        int(s) for s in np.random.SeedSequence([task.seed, task.index]).generate_state(2)
    )
    df = simulate_patient(task.name, task.days, sim_seed, task.sample_min)
    rng = np.random.default_rng(gap_seed)
    return add_gaps(df, task.gaps_per_day, task.gap_minutes, rng)


def summarize(data: pd.DataFrame, days: float) -> dict[str, Any]:
    """Headline numbers of the dataset (JSON-ready), CGM statistics over non-missing readings."""
    mgdl = data["bg_mM"].dropna() * MGDL_PER_MMOL
    carbs = data["carbs_g"]
    return {
        "patients": int(data["p_num"].nunique()),
        "rows": len(data),
        "days": float(days),
        "mean_bg_mgdl": round(float(mgdl.mean()), 2),
        "pct_time_in_range_70_180": round(100 * float(mgdl.between(70, 180).mean()), 2),
        "pct_time_below_70": round(100 * float((mgdl < 70).mean()), 2),
        "pct_missing_bg": round(100 * float(data["bg_mM"].isna().mean()), 2),
        "meals": int((carbs > 0).sum()),
        "total_carbs_g": round(float(carbs.sum()), 1),
    }


def synthesize_glucose(params: GlucoseSynthParams, out: Path) -> dict[str, Any]:
    """Simulate the first ``params.n_patients`` of PATIENTS and write ``out/glucose.csv``.

    Returns the summary (see summarize). Same seed -> same bytes, whatever ``workers``.
    """
    tasks = [
        _PatientTask(
            name=name,
            index=i,
            seed=params.seed,
            days=params.days,
            sample_min=params.sample_min,
            gaps_per_day=params.gaps_per_day,
            gap_minutes=tuple(params.gap_minutes),
        )
        for i, name in enumerate(PATIENTS[: params.n_patients])
    ]
    workers = min(params.workers, len(tasks))
    data = pd.concat(list(ordered_map(_simulate_task, tasks, workers)), ignore_index=True)
    atomic_write_text(Path(out) / "glucose.csv", data.to_csv(index=False, float_format="%.6g"))
    return summarize(data, params.days)
