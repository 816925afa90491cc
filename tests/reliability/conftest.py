"""Shared tiny data for the bad-input suite: raw recordings once per session, and one
workspace that has run the stages from splits to calibrate on them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.pipeline import tiny_params
from tests.reliability.helpers import assert_ok, ttmbio
from ttmbio.synth.dataset import synthesize

# fast training that still writes every output; the calibrator belongs to run "run"
TRAIN = {
    "pretrain": {"epochs": 2},
    "finetune": {
        "head_epochs": 1,
        "unfreeze_epochs": 1,
        "batch_size": 8,
        "head": {"hidden_dims": [8]},
    },
    "calibrate": {"model": "run"},
    "evaluate": {"bootstrap": 20},
}


def data_paths(raw: Path) -> dict[str, Any]:
    """The ``data`` params for a raw folder holding ``vitaldb/`` and ``butppg/``."""
    return {
        "data": {
            "vitaldb": {
                "path": str(raw / "vitaldb"),
                "clinical_csv": str(raw / "vitaldb/cases.csv"),
            },
            "butppg": {"path": str(raw / "butppg")},
        }
    }


@pytest.fixture(scope="session")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 VitalDB cases (2 to 2.5 min) and 10 BUT-PPG records, in their real formats."""
    tmp = tmp_path_factory.mktemp("raw")
    synthesize(tiny_params(tmp).synth, tmp / "raw")
    return tmp / "raw"


@pytest.fixture(scope="session")
def trained(raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace after ``splits``, ``windows``, ``pretrain``, ``finetune --name run`` and
    ``calibrate``: data/, models/pretrain, models/finetune/run, models/calibrate."""
    ws = tmp_path_factory.mktemp("trained")
    tiny_params(ws, {**data_paths(raw), **TRAIN})
    for command in (["splits"], ["windows"], ["pretrain"], ["finetune", "--name", "run"]):
        assert_ok(ttmbio(ws, *command))
    assert_ok(ttmbio(ws, "calibrate"))
    return ws
