"""The windows stage as a library call: one report holding what the CLI prints."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures.pipeline import no_progress, tiny_params
from ttmbio.splits.file import write_split_file
from ttmbio.synth.dataset import synthesize
from ttmbio.windows.run import WindowsReport, run_windows


def test_run_windows_writes_everything_and_reports_skipped_recordings(tmp_path: Path) -> None:
    params = tiny_params(tmp_path)
    synthesize(params.synth, tmp_path / "raw")
    write_split_file(params, tmp_path / "splits.json", tmp_path / "splits-metrics.json")
    doc = json.loads((tmp_path / "splits.json").read_text())
    broken = next(r for r in doc["datasets"]["vitaldb"]["cases"] if r["split"] == "test")
    Path(broken["file"]).write_bytes(b"not gzip")  # after indexing: found broken by windows

    report = run_windows(
        params,
        tmp_path / "splits.json",
        tmp_path / "windows",
        tmp_path / "windows.json",
        tmp_path / "plots",
        no_progress,
    )
    assert isinstance(report, WindowsReport)
    (line,) = report.skipped
    assert line.startswith(f"vitaldb: skipped {broken['file']}: ")
    written = json.loads((tmp_path / "windows.json").read_text())
    assert written == {**report.counts, "gate_audit": report.gate_audit}
    assert report.counts["vitaldb"]["test"]["cases_skipped"] == 1
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "butppg_examples.png",
        "butppg_sqi.png",
        "vitaldb_examples.png",
        "vitaldb_sqi.png",
    ]
    lines = report.lines()
    kept = report.counts["butppg"]["train"]
    assert lines[1].startswith(f"windows: butppg: train {kept['windows']}/{kept['candidates']}")
    assert lines[-1].startswith("windows: gate audit (morphology ECG / morphology PPG): kept ")
