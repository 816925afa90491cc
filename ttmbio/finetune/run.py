"""The finetune stage as a library call: one run (under ``torchrun`` too), its logged
summary and its curves.

:func:`run_finetune_stage` does everything ``ttmbio finetune`` does and returns the run's
:class:`FinetuneReport`; the CLI only hands it a logger factory and prints the report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ttmbio.finetune.summary import WATCHED, RunSummary
from ttmbio.params import Params
from ttmbio.plots import plot_curves
from ttmbio.training.distributed import DistInfo, process_group, settle
from ttmbio.training.engine import RunLogger


class FinetuneReport(BaseModel):
    """What ``ttmbio finetune`` wrote: the run folder and its summary."""

    model_config = ConfigDict(frozen=True)

    name: str
    out: Path
    summary: RunSummary

    def line(self) -> str:
        s = self.summary
        metric, value = s.val_score
        return (
            f"finetune {self.name}: {s.task} ({s.init}, {s.label_fraction:.0%} labels, "
            f"{s.mode}) best epoch {s.best_epoch}: val {metric} {value:.3f} -> {self.out}"
        )


def run_finetune_stage(
    params: Params,
    windows: Path,
    pretrained: Path,
    work: Path,
    out: Path,
    png: Path,
    new_logger: Callable[[], RunLogger],
    name: str | None = None,
) -> FinetuneReport | None:
    """Fine-tune into the run folder ``out`` (whole at the end; resumable from ``work``),
    log its summary and plot its curves to ``png`` (titled ``name``, default the folder's).
    Returns None in the ``torchrun`` processes other than the first (they write nothing).
    ``new_logger`` is called once the run is built, so windows or params that cannot work
    are refused with nothing written."""
    with process_group() as info:
        summary = _train(params, windows, pretrained, work, out, new_logger, info)
        settle(info)
    if summary is None:
        return None
    history = json.loads((out / "history.json").read_text())
    panels = {
        "train loss": ["train_loss"],
        "val": list(WATCHED[summary.kind].curves),
        "stage": ["stage"],
    }
    name = name or out.name
    plot_curves(history, panels, f"finetune {name}: {summary.task}", png)
    return FinetuneReport(name=name, out=out, summary=summary)


def _train(
    params: Params,
    windows: Path,
    pretrained: Path,
    work: Path,
    out: Path,
    new_logger: Callable[[], RunLogger],
    info: DistInfo,
) -> RunSummary | None:
    """Build and run the fine-tuning; it (and its DDP wrapper) is released on return."""
    from ttmbio.finetune.build import build_finetuner
    from ttmbio.finetune.loop import run_finetuning

    tuner = build_finetuner(params, windows, pretrained, dist=info)
    logger = new_logger() if info.is_main else None
    summary = run_finetuning(tuner, work, out, logger)
    if logger is not None and summary is not None:
        logger.summary.update(
            {
                k: v
                for k, v in summary.model_dump(exclude_none=True).items()
                if isinstance(v, float | int) and not isinstance(v, bool)
            }
        )
        logger.end()
    return summary
