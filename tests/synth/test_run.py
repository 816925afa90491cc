"""The synth stage as a library call: the metrics file holds the report's summary."""

from __future__ import annotations

import json
from pathlib import Path

from tests.synth.test_dataset import SMALL
from ttmbio.synth.run import SynthReport, write_synth


def test_write_synth_writes_the_data_and_its_summary(tmp_path: Path) -> None:
    report = write_synth(SMALL, tmp_path / "raw", tmp_path / "synth.json")
    assert isinstance(report, SynthReport)
    assert json.loads((tmp_path / "synth.json").read_text()) == report.summary
    vitaldb = report.summary["vitaldb"]
    assert len(list((tmp_path / "raw/vitaldb").glob("*.vital"))) == vitaldb["cases"]
    assert report.line().startswith(f"synth: {vitaldb['cases']} VitalDB cases (")
    assert report.line().endswith(f"in {tmp_path / 'raw'}")
