"""``ttmbio finetune``: a downstream head on the pretrained (or a random) encoder."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from stages.common import ParamsOption, one_line_errors, override_finetune
from ttmbio.params import load_params


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
    """Train a head (staged unfreezing or LoRA) on the task's windows; early-stop on val."""
    cfg = load_params(params)
    cfg = override_finetune(cfg, task=task, init=init, label_fraction=label_fraction, seed=seed)
    from dvclive import Live

    from ttmbio.curves import plot_curves
    from ttmbio.finetune import build_finetuner, run_finetuning

    tuner = build_finetuner(cfg, windows, pretrained)
    live = Live(dir=str(metrics / name), save_dvc_exp=False, dvcyaml=None)
    summary = run_finetuning(tuner, work / name, out / name, live)
    live.summary.update(
        {k: v for k, v in summary.items() if isinstance(v, float | int) and not isinstance(v, bool)}
    )
    live.end()
    history = json.loads((out / name / "history.json").read_text())
    watched = ["val_auroc", "val_auprc"] if "val_auroc" in history[0] else ["val_mae"]
    plot_curves(
        history,
        {"train loss": ["train_loss"], "val": watched, "stage": ["stage"]},
        f"finetune {name}: {summary['task']}",
        plots / f"{name}.png",
    )
    best = summary.get("val_auroc", summary.get("val_mae"))
    typer.echo(
        f"finetune {name}: {summary['task']} ({summary['init']}, "
        f"{summary['label_fraction']:.0%} labels, {summary['mode']}) best epoch "
        f"{summary['best_epoch']}: val {'AUROC' if 'val_auroc' in summary else 'MAE'} "
        f"{best:.3f} -> {out / name}"
    )
