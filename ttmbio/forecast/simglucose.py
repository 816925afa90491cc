"""simglucose, imported lazily, and three patches that make it ~18x faster, bit for bit.

simglucose spends its time in Python overhead, not in physiology: pandas attribute access
for ~40 patient parameters at every ODE evaluation (:class:`FastParams`), numpy-scalar
arithmetic in the ODE's right-hand side (:func:`fast_model`) and two regex table lookups
per controller step (:func:`fast_controller`). Each patch runs the very same arithmetic on
the very same values, so a patched simulation equals an unpatched one exactly (test: the
whole results table, ``check_exact``). Measured on 2 cores: 0.7 s per simulated patient-day
patched, 12-15 s unpatched.
"""

from __future__ import annotations

import functools
import warnings
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd


@functools.cache
def simglucose() -> SimpleNamespace:
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


class PatientConstants:
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


def fast_controller(sg: SimpleNamespace) -> Any:
    """simglucose's ``BBController`` with its per-patient table lookups done once.

    ``BBController._bb_policy`` regex-matches the patient name in two pandas tables at every
    5-minute step (~30 % of a simulation); this subclass keeps the matched values and then
    runs the very same arithmetic on the very same one-element arrays, so every action is
    bit-identical (test).
    """

    class FastBBController(sg.BBController):
        def __init__(self) -> None:
            super().__init__()
            self._constants: dict[str, PatientConstants] = {}

        def _bb_policy(self, name: str, meal: float, glucose: float, env_sample_time: float):
            c = self._constants.get(name) or self._constants.setdefault(
                name, PatientConstants(self, name)
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


def fast_model(
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
