"""``ttmbio finetune``: a downstream head on the pretrained (or a random) encoder."""

from __future__ import annotations

from pathlib import Path

import typer

from ttmbio.params import load_params
from ttmbio_stages.common import ParamsOption, live_logger, one_line_errors, override_finetune


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
    from ttmbio.finetune.run import run_finetune_stage

    report = run_finetune_stage(
        cfg,
        windows,
        pretrained,
        work / name,
        out / name,
        plots / f"{name}.png",
        live_logger(metrics / name),
        name,
    )
    if report is not None:
        typer.echo(report.line())
