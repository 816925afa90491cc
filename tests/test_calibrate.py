"""The calibrate stage's library entry point on a tiny fine-tuned model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_finetune import run, tiny  # noqa: F401 - module fixture
from ttmbio.calibrate import calibrate
from ttmbio.calibration import IDENTITY
from ttmbio.errors import ConfigError
from ttmbio.params import CalibrateParams, Params


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_calibration_never_makes_val_ece_worse(
    tiny: tuple[Path, Params],  # noqa: F811
    method: str,
) -> None:
    out, _ = run(tiny, "cal")
    calibrator, report, curves = calibrate(CalibrateParams(method=method), out, tiny[0] / "windows")
    assert report["val_after"]["ece"] <= report["val_before"]["ece"]
    assert report["applied"] in (method, "identity")
    if report["applied"] == "identity":
        assert calibrator == IDENTITY
    assert sum(curves["before"]["count"]) == report["val_windows"]


def test_regression_models_are_refused(tiny: tuple[Path, Params]) -> None:  # noqa: F811
    out, _ = run(tiny, "map", task="vitaldb_map")
    with pytest.raises(ConfigError, match="needs a binary classifier"):
        calibrate(CalibrateParams(), out, tiny[0] / "windows")
