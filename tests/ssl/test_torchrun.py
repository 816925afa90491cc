"""`torchrun` with two CPU processes (gloo) on tiny data: one checkpoint set, replicas in step."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.fixtures.pipeline import build_tiny_pipeline
from tests.stages.repo import REPO, run

pytestmark = pytest.mark.slow


def test_two_processes_train_in_step_and_write_one_checkpoint(tmp_path: Path) -> None:
    build_tiny_pipeline(tmp_path)
    result = run(
        REPO,
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "stages",
        "pretrain",
        "--params",
        str(tmp_path / "params.yaml"),
        "--windows",
        str(tmp_path / "windows"),
        "--out",
        str(tmp_path / "out"),
        "--work",
        str(tmp_path / "work"),
        "--metrics",
        str(tmp_path / "metrics"),
        "--plots",
        str(tmp_path / "plots"),
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    assert summary["world_size"] == 2  # and the replica digests matched, or it would fail
    assert sorted(p.name for p in (tmp_path / "out").glob("*.pt")) == [
        "best.pt",
        "epoch_002.pt",
        "last.pt",
    ]
    assert result.stdout.count("pretrain: best epoch") == 1  # rank 0 alone reports
    assert list((tmp_path / "work").iterdir()) == []  # finished: nothing left to resume
    assert (tmp_path / "metrics/metrics.json").is_file()
    assert (tmp_path / "plots/curves.png").is_file()
