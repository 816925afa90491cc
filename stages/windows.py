"""``ttmbio windows``: resample, filter, gate and window every split into zarr stores."""

from __future__ import annotations

from pathlib import Path

import typer

from ttmbio.params import load_params
from ttmbio_stages.common import ParamsOption, one_line_errors, progress, warn


@one_line_errors
def windows(
    splits: Path = typer.Option(Path("data/splits.json"), help="split file to read."),
    out: Path = typer.Option(Path("data/windows"), help="folder of stores to (re)write whole."),
    metrics: Path = typer.Option(
        Path("metrics/windows.json"), help="counts, rejections and the gate audit."
    ),
    plots: Path = typer.Option(Path("plots/windows"), help="folder for PNG plots."),
    params: Path = ParamsOption,
) -> None:
    """Turn every split's recordings into quality-gated, labelled 125 Hz windows."""
    cfg = load_params(params)
    from ttmbio.windows.run import run_windows  # heavy imports only when the stage runs

    report = run_windows(cfg, splits, out, metrics, plots, progress)
    warn(report.skipped)
    for line in report.lines():
        typer.echo(line)
