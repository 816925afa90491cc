"""A run's scored windows: exact round trip, clear refusals, and stages that need no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ttmbio.errors import SourceError
from ttmbio.finetune.scores import (
    SPLIT_FILES,
    read_run_scores,
    read_test_scores,
    scored_csv,
    write_run_scores,
)


def _scored(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "score": rng.uniform(size=n).astype(np.float32),
        "label": rng.choice([-1.0, 0.0, 1.0], n).astype(np.float32),
        "case_id": np.array([f"10000{i % 3}" for i in range(n)]),
        "subject_id": np.array([f"{i % 2}" for i in range(n)]),
        "start_s": np.arange(n) * 8.192,
    }


def test_scores_read_back_bit_for_bit_and_write_the_same_bytes(tmp_path: Path) -> None:
    scored = _scored(50)
    write_run_scores(tmp_path, "val", scored)
    back = read_run_scores(tmp_path, "val")
    for key, value in scored.items():
        assert np.array_equal(back[key], value), key
    assert back["score"].dtype == np.float32 and back["label"].dtype == np.float32
    assert scored_csv(back) == (tmp_path / SPLIT_FILES["val"]).read_text()


def test_regression_targets_keep_their_values(tmp_path: Path) -> None:
    scored = _scored(5) | {"label": np.array([71.25, 64.5, 90.0, 55.1, 80.3], np.float32)}
    write_run_scores(tmp_path, "test", scored)
    assert np.array_equal(read_test_scores(tmp_path)["label"], scored["label"])


def test_missing_empty_and_foreign_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"best\.pt: no fine-tuned model here"):
        read_run_scores(tmp_path, "val")
    (tmp_path / "best.pt").write_bytes(b"weights")
    with pytest.raises(SourceError, match=r"val_scores\.csv: this run has no scored val"):
        read_run_scores(tmp_path, "val")
    write_run_scores(tmp_path, "test", {k: v[:0] for k, v in _scored(3).items()})
    assert len(read_run_scores(tmp_path, "test")["score"]) == 0
    with pytest.raises(SourceError, match="the test split has no windows to score"):
        read_test_scores(tmp_path)
    (tmp_path / SPLIT_FILES["val"]).write_text("a,b\n1,2\n")
    with pytest.raises(SourceError, match="not a run's scores file"):
        read_run_scores(tmp_path, "val")


def test_the_scoring_stages_import_no_torch() -> None:
    """calibrate, evaluate and label-efficiency read scores: ~7 s less per stage process."""
    modules = [
        "ttmbio_stages.cli",
        "ttmbio.calibration.for_run",
        "ttmbio.calibration.calibrator",
        "ttmbio.calibration.metrics",
        "ttmbio.evaluation.metrics",
        "ttmbio.evaluation.run",
        "ttmbio.label_efficiency",
        "ttmbio.finetune.summary",
        "ttmbio.finetune.scores",
        "ttmbio.evaluation.scores",
        "ttmbio.plots",
    ]
    code = f"import sys, importlib\nfor m in {modules!r}: importlib.import_module(m)\n" + (
        "bad = sorted(m for m in ('torch', 'torchmetrics', 'transformers') if m in sys.modules)\n"
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]


def test_a_garbled_row_names_its_line(tmp_path: Path) -> None:
    write_run_scores(tmp_path, "val", _scored(4))
    path = tmp_path / SPLIT_FILES["val"]
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:2], lines[2] + ",7", *lines[3:]]) + "\n")
    with pytest.raises(SourceError, match=r"val_scores\.csv: line 3 has 6 fields, not 5"):
        read_run_scores(tmp_path, "val")
    path.write_text("\n".join([*lines[:2], lines[2].replace(".", "x", 1), *lines[3:]]) + "\n")
    with pytest.raises(SourceError, match="unreadable scores file"):
        read_run_scores(tmp_path, "val")
