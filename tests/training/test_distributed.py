"""Process-group helpers outside ``torchrun`` (two-process runs: tests/ssl/test_torchrun.py)."""

from __future__ import annotations

import gc

import pytest
import torch

from ttmbio.training import distributed
from ttmbio.training.distributed import DistInfo, process_group, settle


def test_a_single_process_run_joins_no_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with process_group() as info:
        assert (info.rank, info.world_size, info.is_main, info.distributed) == (0, 1, True, False)
    assert not torch.distributed.is_initialized()


def test_settle_outside_torchrun_skips_the_full_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append("collect") or 0)
    monkeypatch.setattr(distributed, "barrier", lambda info: calls.append("barrier"))
    settle(DistInfo(0, 1, torch.device("cpu")))
    assert calls == []
    settle(DistInfo(0, 2, torch.device("cpu")))
    assert calls == ["collect", "barrier"]
