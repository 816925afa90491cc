"""The calibrate stage's library entry point on a tiny fine-tuned model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.finetune.test_finetune import run, tiny  # noqa: F401 - module fixture
from ttmbio.calibration.calibrator import CALIBRATOR_FORMAT, IDENTITY, Calibrator
from ttmbio.calibration.for_run import (
    CalibrateReport,
    CalibratorFile,
    calibrate,
    calibrate_run,
    calibrator_for,
    calibrator_record,
    fitted_on,
    read_calibrator,
    write_calibrator,
)
from ttmbio.errors import ConfigError, SourceError
from ttmbio.finetune.scores import model_digest
from ttmbio.params import CalibrateParams, Params


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_calibration_never_makes_val_ece_worse(
    tiny: tuple[Path, Params],  # noqa: F811
    method: str,
) -> None:
    out, _ = run(tiny, "cal")
    calibrator, report, curves = calibrate(CalibrateParams(method=method), out)
    assert report["val_after"]["ece"] <= report["val_before"]["ece"]
    assert report["applied"] in (method, "identity")
    if report["applied"] == "identity":
        assert calibrator == IDENTITY
    assert sum(curves["before"]["count"]) == report["val_windows"]


def test_regression_models_are_refused(tiny: tuple[Path, Params]) -> None:  # noqa: F811
    out, _ = run(tiny, "map", task="vitaldb_map")
    with pytest.raises(ConfigError, match="needs a binary classifier"):
        calibrate(CalibrateParams(), out)


def test_a_calibrator_belongs_to_weights_not_to_a_run_name(
    tiny: tuple[Path, Params],  # noqa: F811
    tmp_path: Path,
) -> None:
    """evaluate and predict share one check: the SHA-256 of the weights it was fitted on."""
    mine, _ = run(tiny, "owner")
    other, _ = run(tiny, "other", seed=7)
    calibrator, _, _ = calibrate(CalibrateParams(), mine)
    path = tmp_path / "calibrator.json"
    # named after the other run, as a stale file would be: the name does not decide
    write_calibrator(path, calibrator_record(calibrator, "other", mine))
    record = calibrator_for(path, model_digest(mine))
    assert record.model == "other" and record.calibrator == calibrator
    with pytest.raises(ConfigError, match="other weights"):
        calibrator_for(path, model_digest(other))
    with pytest.raises(SourceError, match="run `ttmbio calibrate`"):
        calibrator_for(tmp_path / "missing.json", model_digest(mine))


def test_the_calibrator_file_round_trips_in_canonical_bytes(tmp_path: Path) -> None:
    record = CalibratorFile(
        method="platt", params={"a": 1.5, "b": -0.25}, model="run", model_sha256="ab" * 32
    )
    write_calibrator(tmp_path / "c.json", record)
    assert read_calibrator(tmp_path / "c.json") == record
    text = (tmp_path / "c.json").read_text()
    assert (
        text
        == json.dumps(
            {**record.model_dump(), "format": CALIBRATOR_FORMAT}, indent=2, sort_keys=True
        )
        + "\n"
    )
    assert record.calibrator == Calibrator("platt", {"a": 1.5, "b": -0.25})
    # written before formats were recorded (and before the run name was): same schema, read
    legacy = {"method": "temperature", "params": {"temperature": 2.0}, "model_sha256": "0" * 64}
    (tmp_path / "old.json").write_text(json.dumps(legacy))
    assert read_calibrator(tmp_path / "old.json").calibrator.params == {"temperature": 2.0}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"format": "ttmbio-calibrator/2"},
            r"calibrator file format 'ttmbio-calibrator/2' \(written by another version of "
            r"ttmbio\); this ttmbio reads 'ttmbio-calibrator/1'",
        ),
        ({"model_sha256": None}, r"not a valid calibrator file \(model_sha256: Input should be"),
        ({"extra": 1}, r"not a valid calibrator file \(extra: Extra inputs are not permitted"),
        (
            {"params": {"temperature": -1.0}},
            r"calibrator 'temperature': params.temperature: Input should be greater than 0",
        ),
    ],
)
def test_a_calibrator_file_of_another_version_or_shape_is_one_line(
    tmp_path: Path, doc: dict, message: str
) -> None:
    good = {"method": "temperature", "params": {"temperature": 2.0}, "model_sha256": "0" * 64}
    path = tmp_path / "calibrator.json"
    path.write_text(json.dumps({**good, **doc}))
    with pytest.raises(ConfigError, match=message) as err:
        read_calibrator(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def test_calibrate_run_writes_its_files_and_returns_a_typed_report(
    tiny: tuple[Path, Params],  # noqa: F811
    tmp_path: Path,
) -> None:
    """The stage as a library call: the CLI only prints this report."""
    out, _ = run(tiny, "stage")
    cfg = CalibrateParams(model=out.name)
    report = calibrate_run(
        cfg, out.parent, tmp_path / "cal", tmp_path / "cal.json", tmp_path / "plots"
    )
    assert isinstance(report, CalibrateReport) and report.model == out.name
    assert report.applied in ("temperature", "identity") and report.val_windows > 0
    assert report.val_after.ece <= report.val_before.ece
    record = read_calibrator(report.calibrator_file)
    assert fitted_on(record, model_digest(out))
    written = json.loads(report.metrics_file.read_text())
    assert written["val_after"] == report.val_after.model_dump()
    assert (tmp_path / "plots/reliability.png").is_file()
    assert (tmp_path / "plots/reliability.json").is_file()
