"""Glucose forecast accuracy: RMSE, MAE, MARD and the Clarke error grid, overall and per horizon.

Forecasts are made in mmol/L (the model's target unit); the Clarke grid's boundaries are
defined in mg/dL, so values are converted with :data:`MGDL_PER_MMOL` before zoning.
"""

from __future__ import annotations

import numpy as np

# The conventional conversion: glucose's molar mass is 180.16 g/mol, so 1 mmol/L is
# 180.16 mg/L = 18.016 mg/dL; clinical practice (and the CGM literature) rounds it to 18.
MGDL_PER_MMOL = 18.0

ZONES = ("A", "B", "C", "D", "E")


def _pair(reference: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(reference, dtype=np.float64)
    pred = np.asarray(predicted, dtype=np.float64)
    if ref.shape != pred.shape:
        raise ValueError(f"reference {ref.shape} and predicted {pred.shape} differ in shape")
    return ref, pred


def _usable(ref: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat pairs whose reference was measured; a missing reference (sensor gap, or past the
    end of the data) is no error of the forecast. A missing prediction is a bug, not a gap."""
    ref, pred = ref.ravel(), pred.ravel()
    keep = ~np.isnan(ref)
    if np.isnan(pred[keep]).any():
        raise ValueError(
            f"{int(np.isnan(pred[keep]).sum())} predictions are NaN where the reference is "
            "known; a forecaster must predict every step"
        )
    return ref[keep], pred[keep]


def clarke_zones(reference_mgdl: np.ndarray, predicted_mgdl: np.ndarray) -> np.ndarray:
    """Clarke error grid zone ('A'..'E') of each pair (Clarke et al., Diabetes Care 1987).

    The regions, in mg/dL, checked in this order (the first that matches wins):

    - A: ``|pred - ref| <= 0.2 * ref``, or both ``ref < 70`` and ``pred < 70``;
    - E: ``ref <= 70 and pred >= 180`` or ``ref >= 180 and pred <= 70``;
    - C: ``70 <= ref <= 290 and pred >= ref + 110`` (upper) or
      ``130 <= ref <= 180 and pred <= 7/5 * ref - 182`` (lower);
    - D: ``ref >= 240 and 70 <= pred <= 180`` (right), ``ref <= 175/3 and 70 <= pred <= 180``
      or ``175/3 <= ref <= 70 and pred >= 6/5 * ref`` (left);
    - B: everything else.

    The inequalities follow the widely used Python port by T. Tsue of E. Guevara's MATLAB
    "Clarke Error Grid Analysis" v1.2 (github.com/suetAndTie/ClarkeErrorGrid,
    ``ClarkeErrorGrid.py``), except zone A's hypoglycaemic corner: it is ``< 70`` for both
    values, as in Clarke's paper and methcomp's ``clarkezones`` (Tsue/Guevara use ``<= 70``).
    That only moves points lying exactly on a line: ``ref = 70, pred < 56`` is B and
    ``ref < 175/3, pred = 70`` is D here. The fractions are compared in integer-friendly form
    (``5 * |pred - ref| <= ref`` ...) so points on a boundary do not flip by rounding.
    """
    ref, pred = _pair(reference_mgdl, predicted_mgdl)
    if not (np.isfinite(ref).all() and np.isfinite(pred).all()):
        raise ValueError("Clarke zones need finite values; drop NaN pairs first")
    zone_a = (5 * np.abs(pred - ref) <= ref) | ((ref < 70) & (pred < 70))
    zone_e = ((ref <= 70) & (pred >= 180)) | ((ref >= 180) & (pred <= 70))
    zone_c = ((ref >= 70) & (ref <= 290) & (pred >= ref + 110)) | (
        (ref >= 130) & (ref <= 180) & (5 * pred <= 7 * ref - 910)
    )
    mid = (pred >= 70) & (pred <= 180)
    zone_d = (
        ((ref >= 240) & mid)
        | ((3 * ref <= 175) & mid)
        | ((3 * ref >= 175) & (ref <= 70) & (5 * pred >= 6 * ref))
    )
    zones = np.select([zone_a, zone_e, zone_c, zone_d], ["A", "E", "C", "D"], default="B")
    return zones.astype("<U1")


def clarke_summary(reference_mgdl: np.ndarray, predicted_mgdl: np.ndarray) -> dict[str, float]:
    """Percent of pairs in each zone A..E, plus 'A+B' (the clinically acceptable share).

    Pairs with a missing reference are ignored; with no pairs left every share is NaN.
    """
    ref, pred = _usable(*_pair(reference_mgdl, predicted_mgdl))
    if ref.size == 0:
        return {**dict.fromkeys(ZONES, float("nan")), "A+B": float("nan")}
    zones = clarke_zones(ref, pred)
    out = {z: float(np.mean(zones == z) * 100) for z in ZONES}
    out["A+B"] = float(np.mean((zones == "A") | (zones == "B")) * 100)
    return out


def forecast_metrics(reference_mmol: np.ndarray, predicted_mmol: np.ndarray) -> dict[str, float]:
    """rmse_mgdl, mae_mgdl, rmse_mmol, mae_mmol, mard_pct, clarke_A_pct, clarke_AB_pct, n.

    NaN pairs (missing reference) are ignored; n counts the pairs used. A NaN prediction
    where the reference is known raises ValueError. With no pairs every metric is NaN, n 0.
    MARD = mean(|pred - ref| / ref) * 100, the same in either unit.
    """
    ref, pred = _usable(*_pair(reference_mmol, predicted_mmol))
    n = int(ref.size)
    if n == 0:
        keys = ("rmse_mgdl", "mae_mgdl", "rmse_mmol", "mae_mmol", "mard_pct")
        return {
            **dict.fromkeys(keys, float("nan")),
            "clarke_A_pct": float("nan"),
            "clarke_AB_pct": float("nan"),
            "n": 0,
        }
    err_mmol = pred - ref
    err_mgdl = pred * MGDL_PER_MMOL - ref * MGDL_PER_MMOL
    clarke = clarke_summary(ref * MGDL_PER_MMOL, pred * MGDL_PER_MMOL)
    return {
        "rmse_mgdl": float(np.sqrt(np.mean(err_mgdl**2))),
        "mae_mgdl": float(np.mean(np.abs(err_mgdl))),
        "rmse_mmol": float(np.sqrt(np.mean(err_mmol**2))),
        "mae_mmol": float(np.mean(np.abs(err_mmol))),
        "mard_pct": float(np.mean(np.abs(err_mmol) / ref) * 100),
        "clarke_A_pct": clarke["A"],
        "clarke_AB_pct": clarke["A+B"],
        "n": n,
    }


def horizon_metrics(
    reference: np.ndarray, predicted: np.ndarray, resolution_min: int, horizons_min: list[int]
) -> dict[str, dict[str, float]]:
    """Metrics per forecast horizon, plus 'full' (every step pooled).

    ``reference``/``predicted`` are ``[n_windows, forecast_length]`` in mmol/L. Step k (1-based)
    forecasts k * resolution_min minutes ahead, so horizon h is column ``h // resolution_min - 1``:
    the 30-min horizon at 5-min resolution is column 5 (the 6th step). Keys: '30min', ..., 'full'.
    """
    ref, pred = _pair(reference, predicted)
    if ref.ndim != 2:
        raise ValueError(f"expected [n_windows, forecast_length] arrays, got shape {ref.shape}")
    if resolution_min <= 0:
        raise ValueError(f"resolution_min must be positive, got {resolution_min}")
    length = ref.shape[1]
    out: dict[str, dict[str, float]] = {}
    for h in horizons_min:
        step, rest = divmod(h, resolution_min)
        if rest or not 1 <= step <= length:
            raise ValueError(
                f"horizon {h} min is not a step of a {length}-step forecast at "
                f"{resolution_min}-min resolution; use multiples of {resolution_min} up to "
                f"{length * resolution_min}"
            )
        out[f"{h}min"] = forecast_metrics(ref[:, step - 1], pred[:, step - 1])
    out["full"] = forecast_metrics(ref, pred)
    return out
