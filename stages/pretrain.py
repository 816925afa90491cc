"""``ttmbio pretrain``: masked signal modeling on the TTM encoder (``torchrun`` ready)."""

from __future__ import annotations

from pathlib import Path

import typer

from ttmbio.params import load_params
from ttmbio_stages.common import ParamsOption, live_logger, one_line_errors


@one_line_errors
def pretrain(
    windows: Path = typer.Option(Path("data/windows"), help="window stores to read."),
    out: Path = typer.Option(Path("models/pretrain"), help="checkpoint folder to write whole."),
    work: Path = typer.Option(
        Path("checkpoints/pretrain"), help="checkpoints while training (kept for --resume)."
    ),
    metrics: Path = typer.Option(Path("metrics/pretrain"), help="dvclive folder."),
    plots: Path = typer.Option(Path("plots/pretrain"), help="folder for PNG curves."),
    params: Path = ParamsOption,
) -> None:
    """Pretrain the encoder on VitalDB windows; under torchrun, one process per device."""
    cfg = load_params(params)
    from ttmbio.ssl.run import run_pretrain_stage

    report = run_pretrain_stage(cfg, windows, work, out, plots, live_logger(metrics))
    if report is not None:
        for line in report.lines():
            typer.echo(line)
