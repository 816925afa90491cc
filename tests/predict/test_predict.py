"""``ttmbio predict`` end to end on tiny data: same windows and scores as training's stores,
rejected windows listed with their gate, calibrators tied to their model, bad input refused."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import vitaldb
from typer.testing import CliRunner

from tests.finetune.test_finetune import run, tiny  # noqa: F401 - module fixture
from tests.fixtures.files import write_vital
from ttmbio.calibration.calibrator import Calibrator
from ttmbio.errors import ConfigError, SourceError
from ttmbio.finetune.inference import load_finetuned, score_store
from ttmbio.finetune.scores import model_digest
from ttmbio.params import Params
from ttmbio.predict.pipeline import run_predict
from ttmbio.training.checkpoint import load_checkpoint, save_checkpoint
from ttmbio.windows.store import WindowStore
from ttmbio_stages.cli import app

TRACKS = ["SNUADC/ECG_II", "SNUADC/PLETH", "SNUADC/ART"]


@pytest.fixture(scope="module")
def models(tiny: tuple[Path, Params]) -> dict[str, Path]:  # noqa: F811
    quality, _ = run(tiny, "quality")
    # the tiny VitalDB split has too few hypotensive windows for a classifier; MAP regression
    # exercises the same VitalDB path
    mean_pressure, _ = run(tiny, "map", task="vitaldb_map")
    return {"quality": quality, "map": mean_pressure}


def split_rows(tmp: Path, dataset: str, split: str) -> list[dict]:
    """Recordings with windows in a split's store: case id and raw file (or record folder)."""
    cases = dict.fromkeys(WindowStore(tmp / "windows" / dataset / f"{split}.zarr").meta("case_id"))
    raw = tmp / "raw" / dataset
    return [
        {"case_id": c, "file": str(raw / (c if dataset == "butppg" else f"{c}.vital"))}
        for c in cases
    ]


def predict(model: Path, path: Path, calibrator: Path | None = None, explicit: bool = False):
    return run_predict(model, path, calibrator, explicit, "soft", 0.5)


def store_scores(model: Path, store: Path, case_id: str) -> tuple[np.ndarray, np.ndarray]:
    scored = score_store(load_finetuned(model), store)
    mine = scored["case_id"] == case_id
    return scored["start_s"][mine], scored["score"][mine]


@pytest.mark.parametrize("task", ["quality", "map"])
def test_raw_recordings_get_the_scores_of_their_training_windows(
    tiny: tuple[Path, Params],  # noqa: F811
    models: dict[str, Path],
    task: str,
) -> None:
    """Same gates, filters and normalisation as the windows stage: bit-for-bit the windows."""
    tmp, _ = tiny
    dataset = "butppg" if task == "quality" else "vitaldb"
    for row in split_rows(tmp, dataset, "test")[:2]:
        path = Path(row["file"])
        doc = predict(models[task], path).doc
        (rec,) = doc["recordings"]
        assert rec["status"] == "ok" and rec["recording"] == row["case_id"]
        starts, scores = store_scores(
            models[task], tmp / "windows" / dataset / "test.zarr", rec["recording"]
        )
        ok = [w for w in rec["windows"] if w["status"] == "ok"]
        np.testing.assert_allclose([w["start_s"] for w in ok], starts, atol=1e-3)
        key = "probability" if task == "quality" else "value"
        np.testing.assert_allclose([w[key] for w in ok], scores, atol=1e-4)
        assert rec[key] == pytest.approx(np.mean(scores), abs=1e-4)
        assert rec["windows_scored"] + rec["windows_rejected"] == len(rec["windows"])


def test_windows_failing_a_gate_are_listed_with_the_reason_not_scored(
    tiny: tuple[Path, Params],  # noqa: F811
    models: dict[str, Path],
    tmp_path: Path,
) -> None:
    tmp, _ = tiny
    source = Path(split_rows(tmp, "vitaldb", "train")[0]["file"])
    data = vitaldb.VitalFile(str(source), TRACKS).to_numpy(TRACKS, 1 / 500)
    data[30 * 500 : 36 * 500, 1] = data[30 * 500, 1]  # 6 s of flat PPG from t = 30 s
    broken = tmp_path / "flat.vital"
    write_vital(broken, dict(zip(TRACKS, data.T, strict=True)), seconds=len(data) / 500)
    (rec,) = predict(models["map"], broken).doc["recordings"]
    windows = rec["windows"]
    flat = [w for w in windows if w["start_s"] < 35.5 and w["start_s"] + 8.192 > 30.5]
    assert len(flat) >= 2
    assert all(w["status"] == "rejected" and w["reason"] == "flatline" for w in flat)
    assert all(w["value"] is None for w in flat)
    far = [w for w in windows if w["start_s"] > 45 or w["start_s"] + 8.192 < 28]
    assert far and sum(w["status"] == "ok" for w in far) >= len(far) // 2
    assert rec["windows_rejected"] >= len(flat)


def test_a_folder_mixes_kinds_and_skips_broken_files_with_a_row(
    tiny: tuple[Path, Params],  # noqa: F811
    models: dict[str, Path],
    tmp_path: Path,
) -> None:
    tmp, _ = tiny
    folder = tmp_path / "in"
    for row in split_rows(tmp, "butppg", "test")[:2]:
        shutil.copytree(row["file"], folder / Path(row["file"]).name)
    (folder / "broken.vital").write_bytes(b"not gzip at all")
    result = predict(models["quality"], folder)
    rows = {r["recording"]: r for r in result.doc["recordings"]}
    assert rows["broken"]["status"] == "error" and "broken.vital" in rows["broken"]["reason"]
    assert sum(r["status"] == "ok" for r in rows.values()) == 2
    assert any("broken.vital" in note for note in result.notes)


def test_a_calibrator_applies_only_to_the_model_it_was_fitted_on(
    tiny: tuple[Path, Params],  # noqa: F811
    models: dict[str, Path],
    tmp_path: Path,
) -> None:
    tmp, _ = tiny
    record = Path(split_rows(tmp, "butppg", "test")[0]["file"])
    calibrator = Calibrator("temperature", {"temperature": 2.5})
    mine = tmp_path / "mine.json"
    mine.write_text(
        json.dumps({**calibrator.to_json(), "model_sha256": model_digest(models["quality"])})
    )
    plain = predict(models["quality"], record).doc
    assert plain["calibration"].startswith("none:")
    calibrated = predict(models["quality"], record, mine, explicit=True).doc
    assert calibrated["calibration"].startswith("temperature")
    raw = np.array([w["probability_uncalibrated"] for w in calibrated["recordings"][0]["windows"]])
    got = np.array([w["probability"] for w in calibrated["recordings"][0]["windows"]])
    np.testing.assert_allclose(got, calibrator.apply(raw), atol=1e-6)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**calibrator.to_json(), "model_sha256": "0" * 64}))
    with pytest.raises(ConfigError, match="other weights"):
        predict(models["quality"], record, other, explicit=True)
    quiet = predict(models["quality"], record, other, explicit=False)
    assert "belongs to another model" in quiet.doc["calibration"]


def test_a_model_saved_without_its_recipe_is_refused(
    models: dict[str, Path],
    tmp_path: Path,
    tiny: tuple[Path, Params],  # noqa: F811
) -> None:
    old = tmp_path / "old"
    old.mkdir()
    ckpt = load_checkpoint(models["quality"] / "best.pt")
    del ckpt["preprocessing"]
    save_checkpoint(old / "best.pt", ckpt)
    record = Path(split_rows(tiny[0], "butppg", "test")[0]["file"])
    with pytest.raises(SourceError, match="re-run `ttmbio finetune`"):
        predict(old, record)


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["predict", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_writes_csv_and_json(
    tiny: tuple[Path, Params],  # noqa: F811
    models: dict[str, Path],
    tmp_path: Path,
) -> None:
    tmp, _ = tiny
    rows = split_rows(tmp, "butppg", "test")[:3]
    folder = tmp_path / "records"
    for row in rows:
        shutil.copytree(row["file"], folder / Path(row["file"]).name)
    code, out, _ = cli(
        "--model",
        str(models["quality"]),
        "--input",
        str(folder),
        "--output",
        str(tmp_path / "p.csv"),
    )
    assert code == 0, out
    table = list(csv.DictReader(io.StringIO((tmp_path / "p.csv").read_text())))
    recordings = [r for r in table if r["level"] == "recording"]
    windows = [r for r in table if r["level"] == "window"]
    assert sorted(r["recording"] for r in recordings) == sorted(r["case_id"] for r in rows)
    assert len(windows) == sum(
        int(r["windows_scored"]) + int(r["windows_rejected"]) for r in recordings
    )
    assert all(0 <= float(w["probability"]) <= 1 for w in windows if w["status"] == "ok")
    code, _, _ = cli(
        "--model",
        str(models["quality"]),
        "--input",
        str(folder),
        "--output",
        str(tmp_path / "p.json"),
    )
    doc = json.loads((tmp_path / "p.json").read_text())
    assert code == 0 and len(doc["recordings"]) == 3 and doc["task"]["kind"] == "binary"
    code, out, _ = cli(
        "--model", str(models["quality"]), "--input", str(folder / rows[0]["case_id"])
    )
    assert code == 0 and out.startswith(f"{rows[0]['case_id']}: p=")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_bytes(b"\x1f\x8b\x08garbage"), "truncated .vital file"),
        (lambda p: p.write_bytes(b"plain text"), "not a readable .vital file"),
        (
            lambda p: write_vital(p, {"SNUADC/ECG_II": np.zeros(5000, np.float32)}, 10.0),
            "missing channel",
        ),
        (
            lambda p: write_vital(
                p,
                {t: np.sin(np.arange(2500) / 50).astype(np.float32) for t in TRACKS},
                5.0,
            ),
            "shorter than one window",
        ),
    ],
    ids=["truncated-gzip", "not-gzip", "missing-channels", "too-short"],
)
def test_bad_input_is_one_line_naming_the_file(
    models: dict[str, Path], tmp_path: Path, make, expected: str
) -> None:
    path = tmp_path / "case.vital"
    make(path)
    code, out, err = cli("--model", str(models["map"]), "--input", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and str(path) in err
    assert expected in err


def test_unknown_file_kind_and_wrong_output_suffix(models: dict[str, Path], tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    code, _, err = cli("--model", str(models["quality"]), "--input", str(notes))
    assert code == 2 and "not a recording ttmbio can read" in err and str(notes) in err
    code, _, err = cli(
        "--model", str(models["quality"]), "--input", str(tmp_path), "--output", "x.parquet"
    )
    assert code == 2 and "use a .csv or .json" in err


def test_a_butppg_model_on_a_vital_file_names_the_missing_channels(
    tiny: tuple[Path, Params],  # noqa: F811
    models: dict[str, Path],
) -> None:
    path = Path(split_rows(tiny[0], "vitaldb", "test")[0]["file"])
    with pytest.raises(SourceError, match=r"missing channel\(s\) \['ACC_X', 'ACC_Y', 'ACC_Z'\]"):
        predict(models["quality"], path)


def test_regression_models_predict_values(
    tiny: tuple[Path, Params],  # noqa: F811
    models: dict[str, Path],
) -> None:
    path = Path(split_rows(tiny[0], "vitaldb", "test")[0]["file"])
    doc = predict(models["map"], path).doc
    (rec,) = doc["recordings"]
    assert doc["task"]["kind"] == "regression" and doc["calibration"] == "none: regression model"
    values = [w["value"] for w in rec["windows"] if w["status"] == "ok"]
    assert values and all(20 < v < 250 for v in values)
    assert rec["value"] == pytest.approx(np.mean(values), abs=1e-4)
    assert "probability" not in rec
