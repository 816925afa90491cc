"""`ttmbio forecast fit` / `predict` on a user's CSV, and their one-line errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tests.forecast.test_model import patient_frame
from ttmbio_stages.cli import app

TINY = {
    "forecast": {
        "model": {
            "context_length": 32,
            "forecast_length": 8,
            "patch_length": 8,
            "d_model": 8,
            "num_layers": 1,
            "epochs": 1,
            "batch_size": 16,
        },
        "horizons_min": [10, 20],
    }
}


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("forecast-cli")
    (tmp / "params.yaml").write_text(yaml.safe_dump(TINY))
    pd.concat([patient_frame("a"), patient_frame("b", phase=1)]).to_csv(
        tmp / "train.csv", index=False
    )
    patient_frame("c", phase=2).to_csv(tmp / "new.csv", index=False)
    return tmp


def forecast(work: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["forecast", *args, "--params", str(work / "params.yaml")])
    return result.exit_code, result.stdout, result.stderr


def test_fit_then_predict_writes_long_forecasts(work: Path) -> None:
    code, out, err = forecast(
        work, "fit", "--data", str(work / "train.csv"), "--out", str(work / "m")
    )
    assert code == 0, err
    assert (work / "m/forecaster.json").is_file() and "windows" in out
    code, out, err = forecast(
        work,
        "predict",
        "--model",
        str(work / "m"),
        "--data",
        str(work / "new.csv"),
        "--output",
        str(work / "f.csv"),
        "--stride",
        "8",
    )
    assert code == 0, err
    table = pd.read_csv(work / "f.csv")
    assert set(table["p_num"]) == {"c"} and table["minutes_ahead"].max() == 40
    assert table["bg_mM_forecast"].between(2, 15).all()


def test_zero_shot_from_a_pretrained_ttm_folder(work: Path) -> None:
    forecast(work, "fit", "--data", str(work / "train.csv"), "--out", str(work / "m2"))
    code, _, err = forecast(
        work,
        "predict",
        "--pretrained",
        str(work / "m2/model"),
        "--data",
        str(work / "new.csv"),
        "--output",
        str(work / "z.csv"),
    )
    assert code == 0, err
    assert len(pd.read_csv(work / "z.csv")) > 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["predict", "--data", "new.csv", "--output", "x.csv"], "exactly one of --model"),
        (["fit", "--data", "missing.csv", "--out", "m3"], "missing.csv: not found"),
        (["fit", "--data", "no_target.csv", "--out", "m3"], "bg_mM"),
    ],
)
def test_bad_input_is_one_line(work: Path, args: list[str], expected: str) -> None:
    patient_frame("d").drop(columns="bg_mM").to_csv(work / "no_target.csv", index=False)
    args = [str(work / a) if a.endswith(".csv") else a for a in args]
    code, _, err = forecast(work, *args)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert expected in err
