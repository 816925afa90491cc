"""The bench's target table judges each figure, and leaves the quick long case unjudged."""

from __future__ import annotations

from typing import Any

from ttmbio.bench.run import summarize


def _report(quick: bool, long_ratio: float) -> dict[str, Any]:
    return {
        "quick": quick,
        "windowing": {"workers_1": {"x_realtime_per_core": 4000.0}},
        "windowing_floor": {"x_realtime_per_core": 6000.0},
        "training": {"cpu": {"zarr_vs_memory": 0.99}},
        "inference": {"cpu": {"predict_vs_backbone": 1.0, "predict_windows_per_s": 1500.0}},
        "windows_memory": {"ratio_4n_to_n": 1.0},
        "long_case_memory": {"ratio": long_ratio},
        "loader": {"workers_2": 30_000.0},
        "noop_repro": {"seconds": 3.0},
    }


def test_targets_are_judged_and_the_quick_long_case_is_not() -> None:
    full = summarize(_report(False, 1.89))
    assert full["windowing_vs_floor"] == {"value": 4000 / 6000, "target": ">= 0.5", "met": True}
    assert full["windows_rss_long_to_short_case"]["met"] is False
    assert full["predict_windows_per_s"]["met"] is False and full["noop_repro_s"]["met"] is False
    quick = summarize(_report(True, 1.1))  # 1.5 h vs 0.5 h: says nothing about 12 h vs 1 h
    assert quick["windows_rss_long_to_short_case"]["met"] is None
    assert quick["loader_2_workers_windows_per_s"]["met"] is True
