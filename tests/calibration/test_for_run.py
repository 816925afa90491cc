"""The calibrate stage's library entry point on a tiny fine-tuned model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.finetune.test_finetune import run, tiny  # noqa: F401 - module fixture
from ttmbio.calibration.calibrator import IDENTITY
from ttmbio.calibration.for_run import calibrate, calibrator_for, calibrator_record
from ttmbio.errors import ConfigError, SourceError
from ttmbio.params import CalibrateParams, Params
from ttmbio.run_scores import model_digest


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
    path.write_text(json.dumps(calibrator_record(calibrator, "other", mine)))
    assert calibrator_for(path, model_digest(mine))["model"] == "other"
    with pytest.raises(ConfigError, match="other weights"):
        calibrator_for(path, model_digest(other))
    with pytest.raises(SourceError, match="run `ttmbio calibrate`"):
        calibrator_for(tmp_path / "missing.json", model_digest(mine))
