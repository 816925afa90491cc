"""`torchrun` with two CPU processes (gloo) on tiny data: pretraining and fine-tuning each
write one output set, and the engine checks the replicas stayed in step (weight digests)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.fixtures.pipeline import build_tiny_pipeline, no_progress, tiny_params
from tests.stages.repo import REPO, run
from ttmbio.splits.file import build_split_file
from ttmbio.synth.dataset import synthesize
from ttmbio.windows.build import build_windows

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
        "ttmbio_stages",
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


def test_two_processes_fine_tune_in_step_with_early_stopping(tmp_path: Path) -> None:
    extra = {
        "synth": {"butppg": {"n_subjects": 10, "records_per_subject": 4, "good_fraction": 0.5}},
        "splits": {"ratios": {"train": 0.5, "val": 0.25, "test": 0.25}},
        "finetune": {
            "init": "scratch",
            "head_epochs": 1,
            "unfreeze_epochs": 3,
            "patience": 1,
            "batch_size": 8,
            "head": {"hidden_dims": [8]},
        },
    }
    params = tiny_params(tmp_path, extra)
    synthesize(params.synth, tmp_path / "raw")
    doc, _ = build_split_file(params)
    build_windows(params, doc, tmp_path / "windows", no_progress)
    args = [
        "finetune",
        "--name",
        "ddp",
        "--params",
        str(tmp_path / "params.yaml"),
        "--windows",
        str(tmp_path / "windows"),
    ]
    args += [f"--{k}={tmp_path / k}" for k in ("out", "work", "metrics", "plots")]
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    result = run(REPO, *launch, "-m", "ttmbio_stages", *args, check=False, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "out/ddp/summary.json").read_text())
    assert 1 <= summary["epochs_run"] <= 4 and 0.0 <= summary["val_auroc"] <= 1.0
    assert result.stdout.count("finetune ddp:") == 1  # rank 0 alone reports
    names = {p.name for p in (tmp_path / "out/ddp").iterdir()}
    assert {"best.pt", "last.pt", "val_scores.csv", "test_scores.csv"} <= names
    assert list((tmp_path / "work/ddp").iterdir()) == []  # finished: nothing left to resume
    assert (tmp_path / "metrics/ddp/metrics.json").is_file()
    assert (tmp_path / "plots/ddp.png").is_file()
