"""The pretraining run's ``summary.json``: what the encoder learned from and how well.

:class:`PretrainSummary` is the file's schema, versioned by its ``format`` tag; the pretrain
stage prints it and logs it, and fine-tuning fingerprints it. This module imports no torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ttmbio.atomic import atomic_write_json
from ttmbio.versioned import read_versioned

FORMAT = "ttmbio.pretrain-summary/1"
SUMMARY_FILE = "summary.json"


class PretrainSummary(BaseModel):
    """The kept (lowest val loss) epoch's masked-reconstruction error beside linear
    interpolation's over the same masks, and what the run trained on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["ttmbio.pretrain-summary/1"] = FORMAT
    best_epoch: int
    best_val_loss: float
    val_nmse: float
    val_nmse_interp: float
    nmse_ratio_to_interp: float
    epochs: int
    train_windows: int
    val_windows: int
    channels: list[str]
    parameters: int
    world_size: int


def write_pretrain_summary(out: Path, summary: PretrainSummary) -> None:
    """``summary.json`` in the pretraining output folder (sorted keys)."""
    atomic_write_json(Path(out) / SUMMARY_FILE, summary.model_dump())


def read_pretrain_summary(out: Path) -> PretrainSummary:
    """The pretraining summary in ``out``, or a one-line error naming the file and the fix."""
    return read_versioned(
        Path(out) / SUMMARY_FILE,
        PretrainSummary,
        FORMAT,
        "pretraining summary",
        "ttmbio pretrain",
        missing="not a pretraining output folder (no summary); run `ttmbio pretrain`",
    )
