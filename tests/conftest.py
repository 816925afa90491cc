"""Shared fixtures: tiny real-format datasets built per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import network_guard
from tests.fixtures.files import make_butppg_dir, make_vital_dir

# tests never reach a model hub: a missing local checkpoint must fail, not download
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Under xdist every worker runs its own torch processes (its tests, the stages and DVC
# experiments they start) beside the others': torch's default of one thread per core would
# put twice as many threads as cores to work, and OpenMP threads spin while they wait. One
# thread per process, inherited by every subprocess (two tiny fine-tuning runs side by side
# on 2 cores: 14.8 s with 2 threads each, 12.8 s with 1). Set before any test imports torch.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
network_guard.install()  # loopback only, in this process (DVC subprocesses run offline work)


@pytest.fixture
def vital_dir(tmp_path: Path) -> Path:
    return make_vital_dir(tmp_path / "vitaldb")


@pytest.fixture
def butppg_dir(tmp_path: Path) -> Path:
    return make_butppg_dir(tmp_path / "butppg")
