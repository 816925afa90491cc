"""The baseline on tiny stores of a known task: same label subset as fine-tuning, the evaluate
stage's report, a clear refusal when it cannot run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.baseline.stores import BUTPPG, VITALDB, write_split, write_task
from tests.stages.repo import REPO
from ttmbio.baseline.model import binary_spec, label_fraction, read_split, run_baseline
from ttmbio.errors import ConfigError, SourceError
from ttmbio.params import TASKS, Params, load_params
from ttmbio.windows.dataset import WindowDataset
from ttmbio.windows.labels import label_subset
from ttmbio.windows.store import WindowStore

TASK = "vitaldb_hypotension"


@pytest.fixture(scope="module")
def params() -> Params:
    return load_params(REPO / "params.yaml")


@pytest.fixture(scope="module")
def easy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<root>/vitaldb``: PPG pulses half as tall in positive windows; 6 labels -1 per split."""
    root = tmp_path_factory.mktemp("easy")
    write_task(root / "vitaldb", VITALDB, "hypotension")
    return root


@pytest.fixture(scope="module")
def easy_report(params: Params, easy: Path) -> tuple[dict, dict]:
    return run_baseline(params, easy, TASK, 1.0, 42)


def test_an_easy_task_is_separated_and_reported_like_evaluate(easy_report) -> None:
    report, known = easy_report
    w = report["windows"]
    assert w["auroc"] > 0.9  # torchmetrics' float32 point estimate, float64 intervals:
    assert w["auroc_ci_low"] - 1e-6 <= w["auroc"] <= w["auroc_ci_high"] + 1e-6
    assert w["bootstrap_unit"] == "subject" and w["n_units"] == 8  # 48 windows, 6 per subject
    for key in ("auprc", "balanced_accuracy", "confusion", "calibration_after"):
        assert key in w
    assert report["recordings"]["voting"] == "soft"
    assert set(report["candidates"]) == {"logistic", "gbm"}
    chosen = report["model"]
    assert report["val_auroc"] == max(c["val_auroc"] for c in report["candidates"].values())
    assert report["val_auroc"] == report["candidates"][chosen]["val_auroc"]
    names = report["features"]
    assert set(report["candidates"]["logistic"]["coefficients"]) == set(names)
    assert set(report["candidates"]["gbm"]["importances"]) == set(names)
    assert report["calibration"]["method"] == "temperature"
    # the windows whose label is -1 are left out of every split
    assert (report["n_train_windows"], report["n_val_windows"], report["n_test_windows"]) == (
        90,
        42,
        42,
    )
    assert len(known["label"]) == 42 and set(known) >= {"probability", "score", "case_id"}
    json.dumps(report)  # JSON-ready


@pytest.mark.parametrize(("fraction", "seed"), [(0.1, 42), (0.5, 7), (1.0, 3)])
def test_train_windows_are_the_finetune_runs_subset(easy: Path, fraction: float, seed: int) -> None:
    spec = binary_spec(TASK)
    path = easy / "vitaldb" / "train.zarr"
    # as build_finetuner reads them: the task's target through the training dataset
    ds = WindowDataset(path, spec.channels, [spec.target], normalize=False)
    idx = label_subset(ds.targets[spec.target].numpy().astype(np.float64), "binary", fraction, seed)
    used = label_fraction(read_split(path, spec, TASK, "train"), TASK, fraction, seed)
    store = WindowStore(path)
    assert used.ids["case_id"].tolist() == store.meta("case_id")[idx].tolist()
    assert used.ids["start_s"].tolist() == store.meta("start_s")[idx].tolist()
    assert used.labels.tolist() == store.meta("hypotension")[idx].tolist()
    assert len(used.labels) == len(idx) and -1 not in used.labels


def test_the_abp_channel_is_never_read(params: Params, tmp_path: Path) -> None:
    """Here only ABP carries the label: a baseline reading PPG and ECG cannot find it."""
    write_task(tmp_path / "vitaldb", VITALDB, "hypotension", informative="ABP")
    report, _ = run_baseline(params, tmp_path, TASK, 1.0, 42)
    assert not [n for n in report["features"] if "abp" in n]
    assert report["channels"] == ["PPG", "ECG"]
    assert report["windows"]["auroc"] < 0.8


def test_butppg_quality_reads_the_accelerometer(params: Params, tmp_path: Path) -> None:
    write_task(tmp_path / "butppg", BUTPPG, "case_quality", informative="ACC")
    report, _ = run_baseline(params, tmp_path, "butppg_quality", 0.5, 42)
    assert "acc_log_hp_energy" in report["features"]
    assert report["windows"]["auroc"] > 0.9
    assert report["windows"]["bootstrap_unit"] == "recording"
    assert report["n_train_windows"] == 45  # half of each class of the 90 labelled


@pytest.mark.parametrize("kind", ["logistic", "gbm"])
def test_a_fixed_model_kind_is_the_only_candidate(params: Params, easy: Path, kind: str) -> None:
    cfg = params.model_copy(update={"baseline": params.baseline.model_copy(update={"model": kind})})
    report, _ = run_baseline(cfg, easy, TASK, 0.1, 42)
    assert report["model"] == kind and list(report["candidates"]) == [kind]


def test_same_inputs_same_report(params: Params, easy: Path, easy_report) -> None:
    again, _ = run_baseline(params, easy, TASK, 1.0, 42)
    assert json.dumps(again, sort_keys=True) == json.dumps(easy_report[0], sort_keys=True)


def test_refuses_a_split_with_one_class(params: Params, tmp_path: Path) -> None:
    folder = write_task(tmp_path / "vitaldb", VITALDB, "hypotension")
    shutil.rmtree(folder / "train.zarr")
    write_split(folder / "train.zarr", np.zeros(30, np.int8), VITALDB, "hypotension", 1)
    with pytest.raises(SourceError) as err:
        run_baseline(params, tmp_path, TASK, 1.0, 42)
    message = str(err.value)
    assert str(folder / "train.zarr") in message and "both classes" in message
    assert "\n" not in message


def test_refuses_a_missing_store_naming_it(params: Params, tmp_path: Path) -> None:
    folder = write_task(tmp_path / "vitaldb", VITALDB, "hypotension")
    shutil.rmtree(folder / "val.zarr")
    with pytest.raises(SourceError, match=r"val\.zarr: window store not found"):
        run_baseline(params, tmp_path, TASK, 1.0, 42)


def test_refuses_a_regression_task_and_a_missing_target(params: Params, easy: Path) -> None:
    with pytest.raises(ConfigError, match="'vitaldb_map' is a regression task"):
        run_baseline(params, easy, "vitaldb_map", 1.0, 42)
    with pytest.raises(ConfigError, match="'nope' is unknown"):
        run_baseline(params, easy, "nope", 1.0, 42)
    with pytest.raises(ConfigError, match="no per-window field 'hypotension_forecast'"):
        run_baseline(params, easy, "vitaldb_hypotension_forecast", 1.0, 42)


@pytest.mark.skipif(
    "vitaldb_hypotension_forecast" not in TASKS, reason="the forecast task is not registered"
)
def test_the_forecast_task_excludes_its_minus_one_windows(params: Params, tmp_path: Path) -> None:
    write_task(tmp_path / "vitaldb", VITALDB, "hypotension_forecast", excluded=12)
    report, _ = run_baseline(params, tmp_path, "vitaldb_hypotension_forecast", 0.1, 42)
    assert report["n_val_windows"] == report["n_test_windows"] == 36  # 48 - 12 excluded
    assert report["n_train_windows"] == 8  # 10 % of each class of 84 labelled, rounded
    assert report["windows"]["auroc"] > 0.9
