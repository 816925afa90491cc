"""Shared fixtures: tiny real-format datasets built per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import network_guard
from tests.fixtures.files import make_butppg_dir, make_vital_dir

# tests never reach a model hub: a missing local checkpoint must fail, not download
os.environ.setdefault("HF_HUB_OFFLINE", "1")
network_guard.install()  # loopback only, in this process (DVC subprocesses run offline work)


@pytest.fixture
def vital_dir(tmp_path: Path) -> Path:
    return make_vital_dir(tmp_path / "vitaldb")


@pytest.fixture
def butppg_dir(tmp_path: Path) -> Path:
    return make_butppg_dir(tmp_path / "butppg")
