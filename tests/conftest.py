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

# The two modules that build the whole tiny DAG (several minutes each) run first: under
# `-n 2 --dist loadfile` (with --no-loadscope-reorder, in pyproject's addopts) each starts on
# its own worker at once, and the rest of the suite fills in around the longer one instead of
# one worker idling at the end while the other finishes it.
FIRST = ("tests/stages/test_dvc_pipeline.py", "tests/stages/test_repro_twice.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {module: i for i, module in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable


@pytest.fixture
def vital_dir(tmp_path: Path) -> Path:
    return make_vital_dir(tmp_path / "vitaldb")


@pytest.fixture
def butppg_dir(tmp_path: Path) -> Path:
    return make_butppg_dir(tmp_path / "butppg")
