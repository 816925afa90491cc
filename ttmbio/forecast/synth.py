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

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from ttmbio.atomic import atomic_write_text
from ttmbio.forecast.on_board import carbs_on_board, insulin_on_board
from ttmbio.forecast.simglucose import FastParams, fast_controller, fast_model, simglucose
from ttmbio.parallel import ordered_map
from ttmbio.params import GlucoseSynthParams

COHORTS = ("adolescent", "adult", "child")
# interleaved by cohort, so the first n patients always mix ages and body weights
PATIENTS: list[str] = [f"{cohort}#{k:03d}" for k in range(1, 11) for cohort in COHORTS]
COLUMNS = ["datetime", "p_num", "bg_mM", "cob", "iob", "dose_units", "carbs_g"]

MGDL_PER_MMOL = 18.0
START = datetime(2024, 1, 1)  # a fixed clock keeps the file reproducible
SENSOR, PUMP = "GuardianRT", "Insulet"  # GuardianRT samples every 5 min
MAX_SAMPLE_MIN = 60  # simglucose's CGM noise model interpolates 15-min noise over 150 min
# simglucose ends an episode (``done``) once plasma BG leaves this range: past it the model is
# no physiology (below 10 mg/dL its glucose state collapses to 0 and the CGM sits at 39 for ever)
VALID_BG_MGDL = (10.0, 600.0)


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
    sg = simglucose()
    patient_seed, sensor_seed, scenario_seed = (
        int(s) for s in np.random.SeedSequence(seed).generate_state(3)
    )
    patient = sg.T1DPatient.withName(name, random_init_bg=True, seed=patient_seed)
    if fast_params:
        patient._params = FastParams(patient._params)
        patient.model = fast_model  # reset() builds the ODE solver from it
    env = sg.T1DSimEnv(
        patient,
        _sensor(sg, sample_min, sensor_seed),
        sg.InsulinPump.withName(PUMP),
        sg.RandomScenario(start_time=START, seed=scenario_seed),
    )
    controller = fast_controller(sg) if fast_params else sg.BBController()
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
    :mod:`ttmbio.forecast.simglucose`).
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
