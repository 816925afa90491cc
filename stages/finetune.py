"""``ttmbio finetune``: a downstream head on the pretrained (or a random) encoder."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from stages.common import ParamsOption, one_line_errors, override_finetune
from ttmbio.params import load_params

if TYPE_CHECKING:
    from ttmbio.finetune.summary import RunSummary


@one_line_errors
def finetune(
    task: str = typer.Option(None, help="a task of ttmbio.params.TASKS (default: finetune.task)."),
    init: str = typer.Option(None, help="pretrained | scratch (default: finetune.init)."),
    label_fraction: float = typer.Option(
        None, help="share of train labels used (default: finetune.label_fraction)."
    ),
    seed: int = typer.Option(None, help="training seed (default: finetune.seed)."),
    name: str = typer.Option("main", help="run name: outputs go to <out>/<name>."),
    windows: Path = typer.Option(Path("data/windows"), help="window stores to read."),
    pretrained: Path = typer.Option(Path("models/pretrain"), help="pretrained model folder."),
    out: Path = typer.Option(Path("models/finetune"), help="parent of run folders."),
    work: Path = typer.Option(Path("checkpoints/finetune"), help="checkpoints while training."),
    metrics: Path = typer.Option(Path("metrics/finetune"), help="parent of dvclive folders."),
    plots: Path = typer.Option(Path("plots/finetune"), help="folder for PNG curves."),
    params: Path = ParamsOption,
) -> None:
    """Train a head (staged unfreezing or LoRA) on the task's windows; early-stop on val.
    Under torchrun, one process per device, each training on its share of every batch."""
    cfg = load_params(params)
    cfg = override_finetune(cfg, task=task, init=init, label_fraction=label_fraction, seed=seed)
    from ttmbio.training.distributed import barrier, init_distributed, shutdown

    info = init_distributed()
    try:
        summary = _train(cfg, windows, pretrained, work / name, out / name, metrics / name, info)
        gc.collect()  # free the DDP wrapper while the process group exists (see pretrain)
        barrier(info)
    finally:
        shutdown(info)
    if not info.is_main:
        return
    from ttmbio.finetune.summary import WATCHED
    from ttmbio.plots import plot_curves

    history = json.loads((out / name / "history.json").read_text())
    watched = list(WATCHED[summary.kind].curves)
    plot_curves(
        history,
        {"train loss": ["train_loss"], "val": watched, "stage": ["stage"]},
        f"finetune {name}: {summary.task}",
        plots / f"{name}.png",
    )
    metric, value = summary.val_score
    typer.echo(
        f"finetune {name}: {summary.task} ({summary.init}, {summary.label_fraction:.0%} "
        f"labels, {summary.mode}) best epoch {summary.best_epoch}: val {metric} {value:.3f} "
        f"-> {out / name}"
    )


def _train(
    cfg: Any, windows: Path, pretrained: Path, work: Path, out: Path, metrics: Path, info: Any
) -> RunSummary | None:
    """Build and run the fine-tuning (the summary, None outside the first torchrun process);
    the dvclive folder is made (rank 0) only once the run is built, so windows or params that
    cannot work are refused with nothing written."""
    from dvclive import Live

    from ttmbio.finetune.build import build_finetuner
    from ttmbio.finetune.loop import run_finetuning

    tuner = build_finetuner(cfg, windows, pretrained, dist=info)
    live = Live(dir=str(metrics), save_dvc_exp=False, dvcyaml=None) if info.is_main else None
    summary = run_finetuning(tuner, work, out, live)
    if live is not None:
        live.summary.update(
            {
                k: v
                for k, v in summary.model_dump(exclude_none=True).items()
                if isinstance(v, float | int) and not isinstance(v, bool)
            }
        )
        live.end()
    return summary
