"""Run finding against a plain-Python reference (itertools.groupby)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ttmbio.signal.runs import row_runs, true_runs


def _reference(mask: list[bool]) -> list[tuple[int, int]]:
    runs, i = [], 0
    for value, group in itertools.groupby(mask):
        n = len(list(group))
        if value:
            runs.append((i, i + n))
        i += n
    return runs


@pytest.mark.parametrize("seed", range(5))
def test_true_runs_match_the_reference(seed: int) -> None:
    mask = np.random.default_rng(seed).random(200) < 0.6
    starts, stops = true_runs(mask)
    assert list(zip(starts.tolist(), stops.tolist(), strict=True)) == _reference(mask.tolist())


@pytest.mark.parametrize(
    ("mask", "runs"),
    [([], []), ([False], []), ([True], [(0, 1)]), ([True, True, False, True], [(0, 2), (3, 4)])],
)
def test_true_runs_edges(mask: list[bool], runs: list[tuple[int, int]]) -> None:
    starts, stops = true_runs(np.array(mask, dtype=bool))
    assert list(zip(starts.tolist(), stops.tolist(), strict=True)) == runs


def test_row_runs_never_cross_rows() -> None:
    mask = np.random.default_rng(3).random((7, 30)) < 0.5
    mask[:, -1] = mask[:, 0] = True  # a run at the end of a row and one at the next row's start
    rows, lengths = row_runs(mask)
    expected = [(r, b - a) for r in range(7) for a, b in _reference(mask[r].tolist())]
    assert list(zip(rows.tolist(), lengths.tolist(), strict=True)) == expected
