"""A fine-tuning run's ``summary.json``: what it trained on and how its kept epoch did.

:class:`RunSummary` is the file's schema, versioned by its ``format`` tag. Later stages read
it to learn a run's task, dataset and kind without loading the model (calibrate, evaluate);
a file of another format, or one that does not match the schema, is a one-line error.
This module imports no torch, so those stages stay light.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ttmbio.atomic import atomic_write_json
from ttmbio.versioned import read_versioned

FORMAT = "ttmbio.finetune-summary/1"


@dataclass(frozen=True)
class Watched:
    """The val metric a run of one kind early-stops on (``sign`` makes higher better) and the
    val curves its plot shows: one definition for the loop, the summary and the stage."""

    key: str
    label: str
    sign: float
    curves: tuple[str, ...]


WATCHED: dict[str, Watched] = {
    "binary": Watched("val_auroc", "AUROC", 1.0, ("val_auroc", "val_auprc")),
    "regression": Watched("val_mae", "MAE", -1.0, ("val_mae",)),
}
SUMMARY_FILE = "summary.json"
_EXAMPLE = "e.g. models/finetune/pretrained-1.0-seed42"


class RunSummary(BaseModel):
    """The task, data and schedule of one run, and its best epoch's val metrics
    (AUROC/AUPRC/accuracy for a binary task, MAE/RMSE for a regression)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["ttmbio.finetune-summary/1"] = FORMAT
    task: str
    dataset: str
    kind: Literal["binary", "regression"]
    init: Literal["pretrained", "scratch"]
    mode: Literal["ft", "fm"]
    lora: bool
    label_fraction: float
    seed: int
    train_windows: int
    val_windows: int
    best_epoch: int
    epochs_run: int
    trainable_parameters: dict[str, int]  # per phase
    val_auroc: float | None = None
    val_auprc: float | None = None
    val_accuracy: float | None = None
    val_mae: float | None = None
    val_rmse: float | None = None
    lora_fraction: float | None = None  # share of parameters LoRA trained, when on (last:
    # dvclive writes the summary's numbers in this order, as before the model existed)

    @property
    def val_score(self) -> tuple[str, float]:
        """The metric early stopping watched, by name: AUROC, or MAE for a regression."""
        watched = WATCHED[self.kind]
        return watched.label, float(getattr(self, watched.key))


def write_run_summary(run_dir: Path, summary: RunSummary) -> None:
    """``summary.json`` in ``run_dir`` (sorted keys, unset metrics left out)."""
    atomic_write_json(Path(run_dir) / SUMMARY_FILE, summary.model_dump(exclude_none=True))


def read_run_summary(run_dir: Path) -> RunSummary:
    """The run's summary, or a one-line error naming the file and what to do."""
    return read_versioned(
        Path(run_dir) / SUMMARY_FILE,
        RunSummary,
        FORMAT,
        "summary",
        "ttmbio finetune",
        missing="not a fine-tuning run folder (no summary); pass a folder written by "
        f"`ttmbio finetune`, {_EXAMPLE}",
    )
