"""``ttmbio label-efficiency``: pretrained vs scratch over label fractions and seeds, on test."""

from __future__ import annotations

from pathlib import Path

import typer

from ttmbio.params import load_params
from ttmbio_stages.common import ParamsOption, one_line_errors, override_finetune


@one_line_errors
def label_efficiency(
    task: str = typer.Option(None, help="the runs' task (default: finetune.task)."),
    models: Path = typer.Option(Path("models/finetune"), help="parent of fine-tuning runs."),
    metrics: Path = typer.Option(
        Path("metrics/label_efficiency.json"), help="summary file to write."
    ),
    params: Path = ParamsOption,
) -> None:
    """Score every init x fraction x seed run on test; report mean ± sd over seeds and the
    paired pretrained - scratch difference with its two-level bootstrap interval."""
    cfg = load_params(params)
    cfg = override_finetune(cfg, task=task)
    from ttmbio.label_efficiency import write_label_efficiency

    for line in write_label_efficiency(cfg, models, metrics).lines():
        typer.echo(line)
