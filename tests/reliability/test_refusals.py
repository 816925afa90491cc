"""Problems that affect everything: an empty source folder, an empty split, bad params.

Each is refused by the real stage command with exit code 2 and one ``error:`` line naming the
folder, split or param and what to change, before the stage writes anything.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fixtures.pipeline import tiny_params
from tests.reliability.conftest import TRAIN, data_paths
from tests.reliability.helpers import (
    assert_ok,
    assert_refused,
    read_json,
    set_params,
    snapshot,
    ttmbio,
    warning_about,
)

SPLITS_OUT = ("data/splits.json", "metrics/splits.json")


def outputs(ws: Path, *names: str) -> dict[str, str]:
    return snapshot(*(ws / n for n in names))


# ------------------------------------------------------------------ 10. empty source folder


def test_an_empty_vitaldb_folder_is_refused(raw: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    tiny_params(tmp_path, data_paths(raw))
    set_params(tmp_path, {"data": {"vitaldb": {"path": str(tmp_path / "empty")}}})
    before = outputs(tmp_path, *SPLITS_OUT)
    assert_refused(
        ttmbio(tmp_path, "splits"),
        f"error: {tmp_path / 'empty'}: no .vital files; run `ttmbio synth` or set "
        "data.vitaldb.path to a folder of .vital files",
    )
    assert outputs(tmp_path, *SPLITS_OUT) == before


def test_an_empty_butppg_folder_is_refused(raw: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    tiny_params(tmp_path, data_paths(raw))
    set_params(tmp_path, {"data": {"butppg": {"path": str(tmp_path / "empty")}}})
    assert_refused(
        ttmbio(tmp_path, "splits"),
        f"{tmp_path / 'empty/quality-hr-ann.csv'}: not found; a BUT-PPG folder needs",
        "(set data.butppg.path)",
    )
    assert outputs(tmp_path, *SPLITS_OUT) == dict.fromkeys(
        (str(tmp_path / n) for n in SPLITS_OUT), "absent"
    )


# ------------------------------------------------------------------ 11. empty splits


@pytest.fixture(scope="module")
def no_val_no_test(
    raw: Path, trained: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """Windows whose val and test splits are empty (``splits.ratios`` 1/0/0), next to the
    trained workspace's models."""
    ws = tmp_path_factory.mktemp("empty-splits")
    tiny_params(ws, {**data_paths(raw), **TRAIN, "splits": {"ratios": _ratios(1.0, 0.0, 0.0)}})
    assert_ok(ttmbio(ws, "splits"))
    assert_ok(ttmbio(ws, "windows"))
    for name in ("finetune", "calibrate"):
        shutil.copytree(trained / "models" / name, ws / "models" / name)
    return ws, trained


def _ratios(train: float, val: float, test: float) -> dict[str, float]:
    return {"train": train, "val": val, "test": test}


def test_empty_val_and_test_splits_still_get_their_stores(no_val_no_test) -> None:
    ws, _ = no_val_no_test
    counts = read_json(ws / "metrics/splits.json")["vitaldb"]
    assert counts["val"]["cases"] == counts["test"]["cases"] == 0
    windows = read_json(ws / "metrics/windows.json")
    assert windows["vitaldb"]["val"]["windows"] == windows["butppg"]["test"]["windows"] == 0


def test_pretrain_refuses_an_empty_val_split(no_val_no_test) -> None:
    ws, _ = no_val_no_test
    assert_refused(
        ttmbio(ws, "pretrain"),
        "data/windows/vitaldb/val.zarr: the val split has no windows",
        "splits.ratios",
    )
    assert outputs(ws, "models/pretrain", "metrics/pretrain", "checkpoints", "plots/pretrain") == {
        str(ws / n): "absent"
        for n in ("models/pretrain", "metrics/pretrain", "checkpoints", "plots/pretrain")
    }


def test_finetune_refuses_an_empty_val_split(no_val_no_test) -> None:
    ws, trained = no_val_no_test
    pretrained = str(trained / "models/pretrain")
    assert_refused(
        ttmbio(ws, "finetune", "--name", "new", "--pretrained", pretrained),
        "data/windows/butppg/val.zarr: the val split has no usable two-class labels",
    )
    assert not (ws / "models/finetune/new").exists() and not (ws / "metrics/finetune").exists()


def test_calibrate_refuses_a_run_without_val_scores(no_val_no_test) -> None:
    """A run folder from before finetune wrote its scores: one line, nothing written."""
    ws, _ = no_val_no_test
    (ws / "models/finetune/run/val_scores.csv").unlink()
    before = outputs(ws, "models/calibrate", "metrics/calibrate.json", "plots/calibrate")
    assert_refused(
        ttmbio(ws, "calibrate"),
        "models/finetune/run/val_scores.csv: this run has no scored val windows",
        "re-run `ttmbio finetune` (dvc repro)",
    )
    assert outputs(ws, "models/calibrate", "metrics/calibrate.json", "plots/calibrate") == before


def test_evaluate_refuses_an_empty_test_split(no_val_no_test) -> None:
    """What finetune writes when the test store is empty (``splits.ratios.test`` 0)."""
    ws, _ = no_val_no_test
    scores = ws / "models/finetune/run/test_scores.csv"
    scores.write_text(scores.read_text().splitlines()[0] + "\n")
    assert_refused(
        ttmbio(ws, "evaluate"),
        "models/finetune/run/test_scores.csv: the test split has no windows to score",
        "splits.ratios.test > 0",
    )
    assert not (ws / "metrics/evaluate.json").exists() and not (ws / "plots/evaluate").exists()


def test_windows_refuses_an_empty_train_split(raw: Path, tmp_path: Path) -> None:
    tiny_params(tmp_path, {**data_paths(raw), "splits": {"ratios": _ratios(0.0, 0.5, 0.5)}})
    assert_ok(ttmbio(tmp_path, "splits"))
    assert_refused(
        ttmbio(tmp_path, "windows"),
        "the split file gives no vitaldb case to the train split (splits.ratios was",
        "raise splits.ratios.train and re-run `ttmbio splits`",
    )
    assert (
        not (tmp_path / "data/windows").exists()
        and not (tmp_path / "metrics/windows.json").exists()
    )
    assert list((tmp_path / "data").iterdir()) == [tmp_path / "data/splits.json"]


def test_windows_refuses_a_train_split_whose_every_window_is_rejected(
    raw: Path, tmp_path: Path
) -> None:
    tiny_params(tmp_path, {**data_paths(raw), "windows": {"quality": {"min_cycles": 1000}}})
    assert_ok(ttmbio(tmp_path, "splits"))
    line = assert_refused(
        ttmbio(tmp_path, "windows"),
        "error: vitaldb: no train window kept (",
        "cycles ",
        "loosen windows.quality / windows.vitaldb.gates",
    )
    assert ".tmp-" not in line  # names no temporary folder
    assert (
        not (tmp_path / "data/windows").exists()
        and not (tmp_path / "metrics/windows.json").exists()
    )


def test_too_few_subjects_for_three_splits_is_a_warning(raw: Path, tmp_path: Path) -> None:
    """Tiny data: the split with no subject left is named; the stages after refuse it."""
    vital = tmp_path / "raw/vitaldb"
    vital.mkdir(parents=True)
    for case in ("1", "2"):
        shutil.copy(raw / f"vitaldb/{case}.vital", vital)
    tiny_params(
        tmp_path,
        {"data": {"vitaldb": {"clinical_csv": None}, "butppg": {"path": str(raw / "butppg")}}},
    )
    outcome = ttmbio(tmp_path, "splits")
    assert_ok(outcome)
    warning_about(outcome, "warning: vitaldb: split 'test' is empty (2 subjects for 3 splits)")


# ------------------------------------------------------------------ 12. bad params


@pytest.mark.parametrize(
    ("change", "needles"),
    [
        (
            {"splits": {"sed": 7}},
            ["error: params.yaml: unknown param 'splits.sed'; remove it or check its spelling"],
        ),
        (
            {"pretrain": {"epochs": -1}},
            ["error: params.yaml: pretrain.epochs = -1: Input should be greater than or equal"],
        ),
        (
            {"splits": {"ratios": _ratios(0.7, 0.2, 0.2)}},
            ["error: params.yaml: splits.ratios must sum to 1, got 1.1", "adjust train/val/test"],
        ),
        (
            {"pretrain": {"mask_ratio": 1.5}},
            ["error: params.yaml: pretrain.mask_ratio = 1.5: Input should be less than 1"],
        ),
        (
            {"pretrain": {"mask_ratio": 0.0}},
            ["error: params.yaml: pretrain.mask_ratio = 0.0: Input should be greater than 0"],
        ),
        (
            {"model": {"context_length": 512}},
            ["model.context_length (512) must equal windows.length (1024)"],
        ),
    ],
    ids=[
        "unknown-key",
        "negative-epochs",
        "ratios-sum",
        "mask-ratio-high",
        "mask-ratio-zero",
        "context",
    ],
)
@pytest.mark.parametrize("stage", ["splits", "windows", "pretrain"])
def test_bad_params_are_refused_before_any_output(
    raw: Path, tmp_path: Path, change: dict, needles: list[str], stage: str
) -> None:
    tiny_params(tmp_path, data_paths(raw))
    set_params(tmp_path, change)
    assert_refused(ttmbio(tmp_path, stage), *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]
