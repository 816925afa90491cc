"""Forecast metrics: Clarke zones on hand-placed points, error metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ttmbio.forecast.metrics import (
    MGDL_PER_MMOL,
    clarke_summary,
    clarke_zones,
    forecast_metrics,
    horizon_metrics,
)

# (reference mg/dL, predicted mg/dL, zone, why)
HAND_POINTS = [
    # --- A
    (100, 120, "A", "exactly 20 % above the reference: the upper A line is inclusive"),
    (100, 80, "A", "exactly 20 % below the reference: the lower A line is inclusive"),
    (50, 69, "A", "38 % off, but both below 70: the hypoglycaemic corner of A"),
    (300, 250, "A", "16.7 % below: within 20 %"),
    (60, 72, "A", "on 6/5 * ref, the left D wedge's edge, but also exactly 20 %: A wins"),
    # --- B
    (100, 121, "B", "21 % above: just out of A, far from C (needs pred >= 210)"),
    (200, 150, "B", "25 % below, prediction above 70: lower B"),
    (70, 50, "B", "ref 70 is not < 70 and 28.6 % off: right of A's corner, on its edge"),
    (300, 181, "B", "ref >= 240 but pred above 180: just out of the right D band"),
    (80, 189, "B", "one below ref + 110: just under the upper C line"),
    # --- C
    (100, 210, "C", "pred = ref + 110 exactly: the upper C line is inclusive"),
    (290, 400, "C", "ref = 290, the upper C region's right edge, pred = ref + 110"),
    (150, 28, "C", "pred = 7/5 * 150 - 182 = 28: on the lower C line"),
    (170, 56, "C", "pred = 7/5 * 170 - 182 = 56: on the lower C line"),
    # --- D
    (250, 180, "D", "ref >= 240 and pred = 180, the top of the right D band"),
    (240, 100, "D", "ref = 240, the right D band's left edge, pred in [70, 180]"),
    (50, 70, "D", "ref <= 175/3 and pred = 70: pred is not < 70, so not A but D"),
    (20, 179, "D", "ref low, pred one below E's 180"),
    (60, 100, "D", "175/3 <= ref <= 70 and pred >= 6/5 * ref: the left D wedge"),
    # --- E
    (70, 180, "E", "ref <= 70 and pred >= 180, both on the edge"),
    (180, 70, "E", "ref >= 180 and pred <= 70, both on the edge (E beats the right D band)"),
    (40, 300, "E", "hypoglycaemia read as hyperglycaemia"),
    (400, 10, "E", "hyperglycaemia read as hypoglycaemia"),
]


@pytest.mark.parametrize(("ref", "pred", "zone", "why"), HAND_POINTS)
def test_clarke_zone_hand_points(ref: float, pred: float, zone: str, why: str) -> None:
    assert clarke_zones(np.array([ref]), np.array([pred]))[0] == zone, why


def test_clarke_zones_vectorised_and_summary() -> None:
    ref = np.array([p[0] for p in HAND_POINTS], dtype=float)
    pred = np.array([p[1] for p in HAND_POINTS], dtype=float)
    expected = [p[2] for p in HAND_POINTS]
    assert clarke_zones(ref, pred).tolist() == expected
    summary = clarke_summary(ref, pred)
    n = len(expected)
    for z in "ABCDE":
        assert summary[z] == pytest.approx(100 * expected.count(z) / n)
    assert summary["A+B"] == pytest.approx(100 * (expected.count("A") + expected.count("B")) / n)
    assert sum(summary[z] for z in "ABCDE") == pytest.approx(100)


def _zone_loop(ref: float, pred: float) -> str:
    """Scalar if/elif transcription of the published regions (Tsue's port, A corner < 70)."""
    if (ref < 70 and pred < 70) or (0.8 * ref <= pred <= 1.2 * ref):
        return "A"
    if (ref >= 180 and pred <= 70) or (ref <= 70 and pred >= 180):
        return "E"
    if (70 <= ref <= 290 and pred >= ref + 110) or (130 <= ref <= 180 and pred <= 1.4 * ref - 182):
        return "C"
    if (
        (ref >= 240 and 70 <= pred <= 180)
        or (ref <= 175 / 3 and 70 <= pred <= 180)
        or (175 / 3 <= ref <= 70 and pred >= 1.2 * ref)
    ):
        return "D"
    return "B"


def test_clarke_matches_scalar_transcription_on_random_points() -> None:
    rng = np.random.default_rng(0)
    ref = rng.uniform(20, 400, 5000)
    pred = rng.uniform(0, 450, 5000)
    expected = [_zone_loop(r, p) for r, p in zip(ref, pred, strict=True)]
    assert clarke_zones(ref, pred).tolist() == expected
    assert set(expected) == set("ABCDE")  # every region was exercised


def test_clarke_rejects_nan_and_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="finite"):
        clarke_zones(np.array([100.0, np.nan]), np.array([100.0, 100.0]))
    with pytest.raises(ValueError, match="shape"):
        clarke_zones(np.array([100.0]), np.array([100.0, 100.0]))


def test_forecast_metrics_hand_example() -> None:
    # errors in mmol/L: +1, -2, +7
    ref = np.array([5.0, 10.0, 4.0])
    pred = np.array([6.0, 8.0, 11.0])
    m = forecast_metrics(ref, pred)
    assert m["n"] == 3
    assert m["rmse_mmol"] == pytest.approx(math.sqrt((1 + 4 + 49) / 3))
    assert m["mae_mmol"] == pytest.approx(10 / 3)
    assert m["rmse_mgdl"] == pytest.approx(18 * math.sqrt(18))
    assert m["mae_mgdl"] == pytest.approx(18 * 10 / 3)
    # |err| / ref: 1/5, 2/10, 7/4
    assert m["mard_pct"] == pytest.approx((0.2 + 0.2 + 1.75) / 3 * 100)
    # mg/dL pairs: (90, 108) 20 % -> A; (180, 144) 20 % -> A; (72, 198) = ref + 126 -> C
    assert m["clarke_A_pct"] == pytest.approx(200 / 3)
    assert m["clarke_AB_pct"] == pytest.approx(200 / 3)


def test_units_are_consistent() -> None:
    rng = np.random.default_rng(1)
    ref = rng.uniform(3, 15, 200)
    pred = ref + rng.normal(0, 1, 200)
    m = forecast_metrics(ref, pred)
    assert MGDL_PER_MMOL == 18.0
    assert m["rmse_mgdl"] == pytest.approx(18 * m["rmse_mmol"], rel=1e-12)
    assert m["mae_mgdl"] == pytest.approx(18 * m["mae_mmol"], rel=1e-12)
    zones = clarke_summary(ref * 18, pred * 18)
    assert m["clarke_A_pct"] == zones["A"]
    assert m["clarke_AB_pct"] == zones["A+B"]


def test_nan_reference_pairs_are_ignored() -> None:
    ref = np.array([5.0, np.nan, 10.0, np.nan])
    pred = np.array([6.0, 99.0, 8.0, np.nan])  # predictions at gaps do not count
    m = forecast_metrics(ref, pred)
    assert m["n"] == 2
    assert m == forecast_metrics(np.array([5.0, 10.0]), np.array([6.0, 8.0]))
    assert clarke_summary(ref * 18, pred * 18)["A"] == 100.0


def test_nan_prediction_with_known_reference_is_an_error() -> None:
    with pytest.raises(ValueError, match="NaN"):
        forecast_metrics(np.array([5.0, 6.0]), np.array([5.0, np.nan]))


def test_all_missing_reference_gives_nan_and_zero_n() -> None:
    m = forecast_metrics(np.array([np.nan, np.nan]), np.array([5.0, 6.0]))
    assert m["n"] == 0
    assert all(math.isnan(v) for k, v in m.items() if k != "n")


def test_horizon_indexing() -> None:
    rng = np.random.default_rng(2)
    ref = rng.uniform(4, 12, (3, 12))  # 12 steps of 5 min: 5..60 min ahead
    pred = ref.copy()
    pred[:, 5] += 1.0  # the 6th step, 30 min ahead, is off by 1 mmol/L
    out = horizon_metrics(ref, pred, resolution_min=5, horizons_min=[25, 30, 35, 60])
    assert set(out) == {"25min", "30min", "35min", "60min", "full"}
    assert out["30min"]["rmse_mmol"] == pytest.approx(1.0)
    assert out["30min"]["n"] == 3
    for key in ("25min", "35min", "60min"):  # neighbours see nothing: no off-by-one
        assert out[key]["rmse_mmol"] == 0.0
        assert out[key]["mae_mgdl"] == 0.0
    assert out["full"]["n"] == 36
    assert out["full"]["mae_mmol"] == pytest.approx(3 / 36)
    assert out["full"]["rmse_mmol"] == pytest.approx(math.sqrt(3 / 36))


def test_horizon_with_gaps_counts_per_column() -> None:
    ref = np.full((2, 6), 6.0)
    ref[0, 5] = np.nan  # a sensor gap at the 30-min step of the first window
    pred = np.full((2, 6), 6.5)
    out = horizon_metrics(ref, pred, resolution_min=5, horizons_min=[30])
    assert out["30min"]["n"] == 1
    assert out["full"]["n"] == 11


@pytest.mark.parametrize("horizon", [0, 7, 65])
def test_horizon_out_of_range_or_off_grid(horizon: int) -> None:
    ref = np.ones((2, 12))
    with pytest.raises(ValueError, match="horizon"):
        horizon_metrics(ref, ref, resolution_min=5, horizons_min=[horizon])
