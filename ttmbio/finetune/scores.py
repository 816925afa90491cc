"""A fine-tuning run's scored windows: what calibrate, evaluate and label-efficiency read.

``ttmbio finetune`` scores, with the weights it keeps, the val windows it early-stopped on and
the whole test store, and writes them beside those weights (``val_scores.csv``,
``test_scores.csv``). The later stages read these files instead of rebuilding the model: no
torch and no model load in them (~7 s of imports per stage on 2 cores), the same numbers.
Nothing here looks at the test labels; ``evaluate`` is the first to.

Scores and labels are the model's float32 values, written with ``repr`` of their float64
form, so a file reads back bit for bit and a re-run writes the same bytes.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ttmbio.atomic import atomic_write_text
from ttmbio.digest import file_sha256
from ttmbio.errors import SourceError

MODEL_FILE = "best.pt"
SPLIT_FILES = {"val": "val_scores.csv", "test": "test_scores.csv"}
COLUMNS = ("case_id", "subject_id", "start_s", "label", "score")

Scored = dict[str, np.ndarray]  # score, label (float32), case_id, subject_id, start_s


def model_digest(run_dir: Path) -> str:
    """SHA-256 of the saved weights: ties a calibrator to the exact model it was fitted on."""
    path = Path(run_dir) / MODEL_FILE
    if not path.is_file():
        raise SourceError(f"{path}: no fine-tuned model here; run `ttmbio finetune` first")
    return file_sha256(path)


def scored_csv(scored: Scored) -> str:
    """CSV text of one split's scored windows, in store order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for case, subject, start, label, score in zip(
        scored["case_id"],
        scored["subject_id"],
        scored["start_s"],
        scored["label"],
        scored["score"],
        strict=True,
    ):
        writer.writerow([case, subject, repr(float(start)), repr(float(label)), repr(float(score))])
    return out.getvalue()


def write_run_scores(run_dir: Path, split: str, scored: Scored) -> None:
    atomic_write_text(Path(run_dir) / SPLIT_FILES[split], scored_csv(scored))


def read_run_scores(run_dir: Path, split: str) -> Scored:
    """One split's scored windows of a run, as ``write_run_scores`` wrote them."""
    path = Path(run_dir) / SPLIT_FILES[split]
    if not path.is_file():
        model_digest(run_dir)  # no weights either: say "run finetune" first
        raise SourceError(
            f"{path}: this run has no scored {split} windows (fine-tuned by an older ttmbio); "
            "re-run `ttmbio finetune` (dvc repro)"
        )
    rows = list(csv.reader(io.StringIO(path.read_text())))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise SourceError(f"{path}: not a run's scores file (columns {', '.join(COLUMNS)})")
    short = next((n for n, row in enumerate(rows[1:], 2) if len(row) != len(COLUMNS)), None)
    if short is not None:
        raise SourceError(
            f"{path}: line {short} has {len(rows[short - 1])} fields, not {len(COLUMNS)}; "
            "re-run `ttmbio finetune`"
        )
    columns = list(zip(*rows[1:], strict=True)) if len(rows) > 1 else [()] * len(COLUMNS)
    try:
        return {
            "score": np.array(columns[4], dtype=np.float64).astype(np.float32),
            "label": np.array(columns[3], dtype=np.float64).astype(np.float32),
            "case_id": np.array(columns[0], dtype=str),
            "subject_id": np.array(columns[1], dtype=str),
            "start_s": np.array(columns[2], dtype=np.float64),
        }
    except ValueError as err:
        raise SourceError(
            f"{path}: unreadable scores file ({err}); re-run `ttmbio finetune`"
        ) from None


def read_test_scores(run_dir: Path) -> Scored:
    """The run's scored test windows; refused when the test split had none."""
    test = read_run_scores(run_dir, "test")
    if len(test["score"]) == 0:
        raise SourceError(
            f"{Path(run_dir) / SPLIT_FILES['test']}: the test split has no windows to score; "
            "give it cases (splits.ratios.test > 0, or more subjects) or see the rejections "
            "in metrics/windows.json"
        )
    return test
