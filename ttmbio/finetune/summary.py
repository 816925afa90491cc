"""A fine-tuning run's ``summary.json``: what it trained on and how its kept epoch did.

:class:`RunSummary` is the file's schema, versioned by its ``format`` tag. Later stages read
it to learn a run's task, dataset and kind without loading the model (calibrate, evaluate);
a file of another format, or one that does not match the schema, is a one-line error.
This module imports no torch, so those stages stay light.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ttmbio.atomic import atomic_write_json
from ttmbio.errors import SourceError, validation_reason

FORMAT = "ttmbio.finetune-summary/1"
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
        if self.kind == "binary":
            return "AUROC", float(self.val_auroc)  # type: ignore[arg-type]
        return "MAE", float(self.val_mae)  # type: ignore[arg-type]


def write_run_summary(run_dir: Path, summary: RunSummary) -> None:
    """``summary.json`` in ``run_dir`` (sorted keys, unset metrics left out)."""
    atomic_write_json(Path(run_dir) / SUMMARY_FILE, summary.model_dump(exclude_none=True))


def read_run_summary(run_dir: Path) -> RunSummary:
    """The run's summary, or a one-line error naming the file and what to do."""
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        raise SourceError(
            f"{path}: not a fine-tuning run folder (no summary); pass a folder written by "
            f"`ttmbio finetune`, {_EXAMPLE}"
        )
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SourceError(f"{path}: not JSON ({err}); re-run `ttmbio finetune`") from None
    if not isinstance(raw, dict):
        raise SourceError(
            f"{path}: not a JSON object (a {type(raw).__name__}); re-run `ttmbio finetune`"
        )
    found = raw.get("format")
    if found != FORMAT:
        raise SourceError(
            f"{path}: summary format {found!r}, this ttmbio reads {FORMAT!r} (written by "
            "another version of ttmbio); re-run `ttmbio finetune`"
        )
    try:
        return RunSummary.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SourceError(
            f"{path}: not a valid {FORMAT} summary ({where}: {validation_reason(first)}); "
            "re-run `ttmbio finetune`"
        ) from None
