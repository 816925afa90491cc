"""Cross-validation: fold datasets, a fold end to end on tiny data, and the aggregate."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fixtures.pipeline import no_progress, tiny_params
from ttmbio.cv import fold as cv
from ttmbio.cv.summary import aggregate, write_cv_summary
from ttmbio.errors import ConfigError, SourceError
from ttmbio.finetune.build import build_finetuner
from ttmbio.finetune.scores import model_digest
from ttmbio.params import Params
from ttmbio.splits.file import build_split_file
from ttmbio.splits.folds import case_folds, window_folds
from ttmbio.splits.schema import SplitFile
from ttmbio.synth.dataset import synthesize
from ttmbio.windows.build import build_windows
from ttmbio.windows.dataset import PooledWindows, WindowDataset

EXTRA = {
    "synth": {"butppg": {"n_subjects": 10, "records_per_subject": 4, "good_fraction": 0.5}},
    "splits": {"ratios": {"train": 0.5, "val": 0.25, "test": 0.25}, "folds": [0, 1]},
    "finetune": {
        "init": "scratch",
        "head_epochs": 1,
        "unfreeze_epochs": 1,
        "batch_size": 8,
        "head": {"hidden_dims": [8]},
    },
    "evaluate": {"bootstrap": 50},
}
CHANNELS = ["ACC_X", "ACC_Y", "ACC_Z", "PPG", "ECG"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Params, SplitFile]:
    tmp = tmp_path_factory.mktemp("cv")
    params = tiny_params(tmp, EXTRA)
    synthesize(params.synth, tmp / "raw")
    doc, _ = build_split_file(params)
    build_windows(params, doc, tmp / "windows", no_progress)
    return tmp, params, doc


def test_pooled_windows_read_as_their_stores(tiny: tuple[Path, Params, SplitFile]) -> None:
    folder = tiny[0] / "windows/butppg"
    train = WindowDataset(folder / "train.zarr", CHANNELS, targets=["case_quality"])
    val = WindowDataset(folder / "val.zarr", CHANNELS, targets=["case_quality"])
    pool = PooledWindows([train, val])
    assert len(pool) == len(train) + len(val)
    picks = [len(train) + 1, 0, len(train) - 1, len(pool) - 1]
    batch = pool.__getitems__(picks)
    expected = [
        val[1]["x"],
        train[0]["x"],
        train[len(train) - 1]["x"],
        val[len(val) - 1]["x"],
    ]
    for got, want in zip(batch["x"], expected, strict=True):
        assert torch.equal(got, want)
    assert batch["case_quality"].tolist() == [
        float(val[1]["case_quality"]),
        float(train[0]["case_quality"]),
        float(train[len(train) - 1]["case_quality"]),
        float(val[len(val) - 1]["case_quality"]),
    ]
    assert list(pool.meta("case_id")) == [*train.meta("case_id"), *val.meta("case_id")]


def test_fold_trains_on_other_folds_and_validates_on_its_own(
    tiny: tuple[Path, Params, SplitFile],
) -> None:
    tmp, params, doc = tiny
    folds = case_folds(doc, "butppg")
    rows = doc.datasets["butppg"].cases
    subjects_of_fold: dict[int, set[str]] = defaultdict(set)
    for row in rows:
        if row.fold is not None:
            subjects_of_fold[row.fold].add(row.subject_id)
    assert not subjects_of_fold[0] & subjects_of_fold[1]  # subject-disjoint
    seen: set[int] = set()
    for fold in (0, 1):
        tuner = build_finetuner(params, tmp / "windows", None, fold, doc)
        cases = tuner.train.meta("case_id")
        train_folds = {folds[str(c)] for c in cases[tuner.train_idx]}
        val_folds = {folds[str(c)] for c in cases[tuner.val_idx]}
        assert train_folds == {1 - fold} and val_folds == {fold}
        assert not set(tuner.train_idx) & set(tuner.val_idx)
        seen |= set(tuner.val_idx.tolist())
    labelled = np.flatnonzero(tuner.train.targets["case_quality"].numpy() >= 0)
    assert seen == set(labelled.tolist())  # every labelled train+val window validates once


def test_windows_of_a_case_without_fold_are_refused() -> None:
    with pytest.raises(SourceError, match=r"have no fold in the split file.*dvc repro windows"):
        window_folds(np.array(["a", "b"]), {"a": 0}, Path("data/windows/butppg"))


def test_folds_off_is_a_config_error(tiny: tuple[Path, Params, SplitFile]) -> None:
    doc = tiny[2].model_dump(mode="json")
    for row in doc["datasets"]["butppg"]["cases"]:
        row["fold"] = None
    with pytest.raises(ConfigError, match=r"assigns no folds to butppg; set splits\.folds"):
        case_folds(SplitFile.model_validate(doc), "butppg")


def test_unknown_fold_and_regression_task_are_refused(tiny: tuple[Path, Params, SplitFile]) -> None:
    params = tiny[1]
    with pytest.raises(ConfigError, match=r"fold 2 is not in splits.folds=\[0, 1\]"):
        cv.check_fold(params, 2)
    update = params.finetune.model_dump() | {"task": "vitaldb_map"}
    regression = params.model_copy(update={"finetune": params.finetune.model_validate(update)})
    with pytest.raises(ConfigError, match=r"vitaldb_map.*regression task"):
        cv.check_fold(regression, 0)


def test_a_fold_writes_model_calibrator_and_test_metrics(
    tiny: tuple[Path, Params, SplitFile],
) -> None:
    tmp, params, doc = tiny
    (tmp / "splits.json").write_text(json.dumps(doc.model_dump(mode="json")))
    written = cv.write_fold(
        params,
        tmp / "windows",
        tmp / "no-pretrain",
        tmp / "splits.json",
        1,
        tmp / "work",
        tmp / "models",
        tmp / "metrics",
    )
    out, report = tmp / "models/fold-1", written.report
    assert written.out == out and json.loads(written.metrics_file.read_text()) == report
    assert written.line().startswith("cv fold-1: val AUROC ")
    calibrator = json.loads((out / cv.CALIBRATOR_FILE).read_text())
    assert calibrator["model_sha256"] == model_digest(out)
    assert (out / "best.pt").is_file() and not any((tmp / "work/fold-1").iterdir())
    windows = report["test"]["windows"]
    assert report["fold"] == 1 and 0.0 <= windows["auroc"] <= 1.0
    test_windows = WindowDataset(tmp / "windows/butppg/test.zarr", CHANNELS, ["case_quality"])
    assert windows["n"] == int((test_windows.targets["case_quality"] >= 0).sum())
    # intervals resample the test recordings, and say how many there were
    cases = test_windows.store.meta("case_id")[test_windows.targets["case_quality"] >= 0]
    assert windows["bootstrap_unit"] == "recording" and windows["n_units"] == len(set(cases))
    for name in ("auroc", "auprc", "balanced_accuracy"):
        assert windows[f"{name}_ci_low"] <= windows[name] <= windows[f"{name}_ci_high"]
    aggregated = aggregate({1: report, 2: report})
    assert aggregated["mean"]["test.windows.n_units"] == len(set(cases))
    assert "test.windows.auroc_ci_low" in aggregated["mean"]
    assert report["calibration"]["val_ece_after"] <= report["calibration"]["val_ece_before"]


def test_aggregate_is_mean_and_sample_std_with_per_fold_rows() -> None:
    folds = {
        0: {"fold": 0, "val_auroc": 0.8, "test": {"windows": {"auroc": 0.70, "n": 10}}},
        1: {"fold": 1, "val_auroc": 0.9, "test": {"windows": {"auroc": 0.75, "n": 10}}},
        2: {
            "fold": 2,
            "val_auroc": 1.0,
            "test": {"windows": {"auroc": 0.95, "n": 10}, "recordings": {"auroc": 0.5}},
        },
    }
    report = aggregate(folds)
    assert report["k"] == 3
    assert report["mean"]["test.windows.auroc"] == pytest.approx(np.mean([0.70, 0.75, 0.95]))
    assert report["std"]["test.windows.auroc"] == pytest.approx(np.std([0.70, 0.75, 0.95], ddof=1))
    assert report["std"]["test.windows.n"] == 0.0
    assert report["mean"]["test.recordings.auroc"] == 0.5  # only the fold that has it
    assert "test.recordings.auroc" not in report["std"]  # one value: no spread, no NaN
    assert report["folds"]["1"] == {
        "val_auroc": 0.9,
        "test.windows.auroc": 0.75,
        "test.windows.n": 10.0,
    }
    with pytest.raises(ConfigError, match="at least 2 folds"):
        aggregate({0: folds[0]})


def test_cv_stage_with_folds_off_writes_its_note_without_torch(tmp_path: Path) -> None:
    """The default DAG runs `ttmbio cv` with splits.folds=[]: no torch import for a note."""
    import subprocess
    import sys

    out = tmp_path / "cv.json"
    code = (
        "import sys; from ttmbio_stages.cli import main; "
        f"sys.argv = ['ttmbio', 'cv', '--out', {str(out)!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
    assert json.loads(out.read_text()) == {"k": 0}


def test_cv_summary_aggregates_the_folds_or_says_what_is_missing(tmp_path: Path) -> None:
    params = Params.model_validate({"splits": {"folds": [0, 1]}})
    rows = {
        f: {
            "fold": f,
            "val_auroc": 0.8 + f / 10,
            "test": {"windows": {"auroc": 0.7, "calibration_after": {"ece": 0.05}}},
        }
        for f in (0, 1)
    }
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/fold-0.json").write_text(json.dumps(rows[0]))
    with pytest.raises(SourceError, match=r"no metrics for fold\(s\) \[1\]; run `dvc repro cv`"):
        write_cv_summary(params, tmp_path / "metrics", tmp_path / "cv.json")
    assert not (tmp_path / "cv.json").exists()
    (tmp_path / "metrics/fold-1.json").write_text(json.dumps(rows[1]))
    report = write_cv_summary(params, tmp_path / "metrics", tmp_path / "cv.json")
    assert json.loads((tmp_path / "cv.json").read_text()) == report.report == aggregate(rows)
    assert report.lines()[0] == "cv: val_auroc 0.850 ± 0.071 over 2 folds"
    off = write_cv_summary(Params(), tmp_path / "metrics", tmp_path / "off.json")
    assert off.report == {"k": 0} and "cross-validation is off" in off.lines()[0]
