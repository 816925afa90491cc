"""Shared fixtures: tiny real-format datasets built per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import network_guard
from tests.fixtures.files import make_butppg_dir, make_vital_dir
from tests.stages.repo import BUILDERS
from ttmbio.gc_tuning import lighten_gc

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


def _module_rank(items: list[pytest.Item]) -> dict[str, int]:
    """Test file -> 0 for the two tiny-DAG builders, 1 for another file with a slow test, 2
    for the rest."""
    rank: dict[str, int] = {}
    for item in items:
        path = item.nodeid.split("::")[0]
        mine = 0 if path in BUILDERS else 1 if item.get_closest_marker("slow") else 2
        rank[path] = min(rank.get(path, 2), mine)
    return rank


def pytest_configure(config: pytest.Config) -> None:
    """Keep the order below under pytest-xdist (``--dist loadfile``), whose default sends files
    out by their number of tests, most first; without xdist there is no such option.

    Each test process also holds torch, transformers and granite-tsfm's objects: it collects
    them as seldom as the console script does (GC time of five unit-test folders: 4.5 -> 1.6 s).
    """
    lighten_gc()
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The end-to-end files first, whole files kept together and in their order otherwise.

    Under xdist files go out in this order, one to each worker at the start: the two builds of
    the tiny DAG (each minutes long) begin on both workers at once, the files with a slow test
    follow, and the unit tests fill in around them. xdist's own order (files with more tests
    first) sent the builders, which hold few tests, out last, so one worker was still building
    long after the other had run everything else.
    """
    rank = _module_rank(items)
    items.sort(key=lambda item: rank[item.nodeid.split("::")[0]])
