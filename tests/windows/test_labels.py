"""Hypotension-forecast labels against a pressure trace whose events are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from ttmbio.windows.labels import (
    INSIDE_EVENT,
    NO_HORIZON,
    forecast_labels,
    hypotension_events,
    map_per_second,
)

FS = 125.0
LENGTH = 1024  # 8.192 s


def _abp(duration_s: float, segments: list[tuple[float, float, float]]) -> np.ndarray:
    """A pulsatile ABP (1.2 Hz, +-20 mmHg) whose mean is 80 except in ``(start, stop, map)``."""
    t = np.arange(round(duration_s * FS)) / FS
    mean = np.full(t.size, 80.0)
    for a, b, level in segments:
        mean[(t >= a) & (t < b)] = level
    return mean + 20.0 * np.sin(2 * np.pi * 1.2 * t)


def _labels(abp: np.ndarray, starts_s: list[float], horizon_s: float = 300.0) -> np.ndarray:
    starts = np.round(np.asarray(starts_s) * FS).astype(np.int64)
    return forecast_labels(map_per_second(abp, FS), FS, starts, LENGTH, horizon_s, 65.0, 60.0)


def test_map_per_second_matches_the_mean_pressure() -> None:
    map_s = map_per_second(_abp(60.0, [(20.0, 40.0, 55.0)]), FS)
    assert map_s.shape == (60,)
    assert np.allclose(map_s[5:15], 80.0, atol=1.5)
    assert np.allclose(map_s[25:35], 55.0, atol=1.5)


def test_events_need_the_minimum_duration() -> None:
    abp = _abp(900.0, [(100.0, 130.0, 60.0), (400.0, 500.0, 55.0)])
    events = hypotension_events(map_per_second(abp, FS), 65.0, 60.0)
    assert len(events) == 1  # the 30 s dip is not an event
    start, stop = events[0]
    assert abs(start - 400) <= 2 and abs(stop - 500) <= 2


def test_positive_negative_and_exclusions() -> None:
    abp = _abp(900.0, [(100.0, 130.0, 60.0), (400.0, 500.0, 55.0)])
    labels = _labels(abp, [50.0, 150.0, 380.0, 395.0, 420.0, 510.0, 600.0])
    # 50 s: the event starts 342 s after the window ends, beyond 5 min; the 30 s dip in its
    # horizon is no event -> negative. 150 s and 380 s: the event starts within 5 min ->
    # positive. 395 s: the window runs into the event; 420 s: inside it -> excluded.
    # 510 s: after it, a full clean horizon -> negative. 600 s: the horizon runs past the end.
    assert labels.tolist() == [0, 1, 1, INSIDE_EVENT, INSIDE_EVENT, 0, NO_HORIZON]
    assert labels.dtype == np.int8


def test_horizon_boundaries() -> None:
    abp = _abp(900.0, [(400.0, 500.0, 55.0)])
    end_s = LENGTH / FS
    onset = 400.0
    just_in = onset - 299.0 - end_s  # the event starts 299 s after the window ends
    just_out = onset - 302.0 - end_s
    assert _labels(abp, [just_in, just_out]).tolist() == [1, 0]


def test_a_positive_needs_no_full_horizon_but_a_negative_does() -> None:
    abp = _abp(600.0, [(520.0, 600.0, 55.0)])
    labels = _labels(abp, [400.0, 100.0])
    assert labels.tolist() == [1, 0]
    no_event = _abp(600.0, [])
    assert _labels(no_event, [400.0]).tolist() == [NO_HORIZON]


def test_missing_pressure_is_not_hypotension() -> None:
    abp = _abp(900.0, [])
    abp[round(300 * FS) : round(420 * FS)] = np.nan  # a 2-min disconnect
    # horizons 8-308 s (3 % missing), 258-558 s (40 %), 508-808 s (none)
    labels = _labels(abp, [0.0, 250.0, 500.0])
    assert labels.tolist() == [0, NO_HORIZON, 0]
    assert hypotension_events(map_per_second(abp, FS), 65.0, 60.0) == []


@pytest.mark.parametrize("horizon_min", [5, 10, 15])
def test_longer_horizons_label_earlier_windows_positive(horizon_min: int) -> None:
    abp = _abp(1800.0, [(1200.0, 1300.0, 55.0)])
    starts = np.arange(0.0, 1180.0, 4.0)
    labels = _labels(abp, starts.tolist(), horizon_s=60.0 * horizon_min)
    first_positive = starts[np.argmax(labels == 1)]
    assert abs((1200.0 - first_positive - LENGTH / FS) - 60.0 * horizon_min) < 4.5
