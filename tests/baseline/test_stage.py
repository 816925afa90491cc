"""``ttmbio baseline`` as a user runs it: files where dvc.yaml expects them, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.baseline.stores import VITALDB, write_task
from tests.stages.repo import REPO
from ttmbio.evaluation.scores import read_scores
from ttmbio_stages.cli import app

runner = CliRunner()
PARAMS = str(REPO / "params.yaml")


def _baseline(windows: Path, out: Path, *extra: str):
    return runner.invoke(
        app,
        ["baseline", "--windows", str(windows), "--out", str(out), "--params", PARAMS, *extra],
    )


def test_writes_the_metrics_and_scores_of_a_fraction_and_seed(tmp_path: Path) -> None:
    write_task(tmp_path / "w" / "vitaldb", VITALDB, "hypotension")
    task = ["--task", "vitaldb_hypotension", "--label-fraction", "1.0", "--seed", "42"]
    result = _baseline(tmp_path / "w", tmp_path / "out", *task)
    assert result.exit_code == 0, result.output
    metrics = tmp_path / "out/vitaldb_hypotension/1.0-seed42.json"
    report = json.loads(metrics.read_text())
    assert report["label_fraction"] == 1.0 and report["seed"] == 42
    assert report["windows"]["auroc"] > 0.9
    assert (
        "test AUROC" in result.output and str(tmp_path / "out/vitaldb_hypotension") in result.output
    )
    summary = json.loads((tmp_path / "out/vitaldb_hypotension.json").read_text())
    assert summary["fractions"]["1.0"]["seed42"]["auroc"] == report["windows"]["auroc"]
    scores = read_scores(tmp_path / "out/vitaldb_hypotension/1.0-seed42_scores.csv")
    assert scores.dataset == "vitaldb" and len(scores.label) == report["n_test_windows"]
    first = metrics.read_bytes()
    assert _baseline(tmp_path / "w", tmp_path / "out", *task).exit_code == 0
    assert metrics.read_bytes() == first  # a re-run writes the same bytes


def test_errors_are_one_line_naming_the_path_or_option(tmp_path: Path) -> None:
    missing = _baseline(tmp_path / "nowhere", tmp_path / "out", "--task", "vitaldb_hypotension")
    assert missing.exit_code == 2
    assert missing.stderr.count("\n") == 1 and "window store not found" in missing.stderr
    assert str(tmp_path / "nowhere" / "vitaldb" / "train.zarr") in missing.stderr
    bad = _baseline(tmp_path, tmp_path / "out", "--task", "vitaldb_hr")
    assert bad.exit_code == 2 and "--task 'vitaldb_hr' is a regression task" in bad.stderr
    fraction = _baseline(tmp_path, tmp_path / "out", "--label-fraction", "1.5")
    assert fraction.exit_code == 2 and "--label-fraction 1.5" in fraction.stderr
    assert not (tmp_path / "out").exists()


def test_without_a_fraction_every_run_of_the_matrix_is_written(tmp_path: Path) -> None:
    """One process per task runs finetune.fractions x finetune.seeds (features read once)."""
    write_task(tmp_path / "w" / "vitaldb", VITALDB, "hypotension")
    result = _baseline(tmp_path / "w", tmp_path / "out", "--task", "vitaldb_hypotension")
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "out/vitaldb_hypotension").glob("*.json"))
    assert written == ["0.1-seed42.json", "1.0-seed42.json"]  # params.yaml's matrix
    summary = json.loads((tmp_path / "out/vitaldb_hypotension.json").read_text())
    assert set(summary["fractions"]) == {"0.1", "1.0"}
    small = json.loads((tmp_path / "out/vitaldb_hypotension/0.1-seed42.json").read_text())
    full = json.loads((tmp_path / "out/vitaldb_hypotension/1.0-seed42.json").read_text())
    assert small["n_train_windows"] < full["n_train_windows"]
