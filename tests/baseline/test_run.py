"""The baseline stage as a library call: the report holds what the files hold."""

from __future__ import annotations

import json
from pathlib import Path

from tests.baseline.stores import VITALDB, write_task
from ttmbio.baseline.run import BaselineReport, write_baselines
from ttmbio.params import Params


def test_write_baselines_reports_every_run_it_wrote(tmp_path: Path) -> None:
    write_task(tmp_path / "w" / "vitaldb", VITALDB, "hypotension")
    params = Params.model_validate({"finetune": {"task": "vitaldb_hypotension"}})
    report = write_baselines(params, tmp_path / "w", tmp_path / "out", [(1.0, 42), (0.5, 7)])
    assert isinstance(report, BaselineReport) and sorted(report.runs) == ["0.5-seed7", "1.0-seed42"]
    for run, written in report.runs.items():
        assert json.loads((tmp_path / f"out/vitaldb_hypotension/{run}.json").read_text()) == written
    summary = json.loads(report.summary_file.read_text())
    assert (
        summary["fractions"]["0.5"]["seed7"]["auroc"]
        == report.runs["0.5-seed7"]["windows"]["auroc"]
    )
    first, second = report.lines()
    assert first.startswith("baseline vitaldb_hypotension (100% labels, seed 42): ")
    assert second.startswith("baseline vitaldb_hypotension (50% labels, seed 7): ")
