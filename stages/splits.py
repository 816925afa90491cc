"""``ttmbio splits``: subject-level train/val/test (and fold) assignment."""

from __future__ import annotations

from pathlib import Path

import typer

from ttmbio.params import load_params
from ttmbio_stages.common import ParamsOption, one_line_errors, warn


@one_line_errors
def splits(
    out: Path = typer.Option(Path("data/splits.json"), help="split file to write."),
    metrics: Path = typer.Option(Path("metrics/splits.json"), help="counts per split."),
    params: Path = ParamsOption,
) -> None:
    """Index the configured sources and assign whole subjects to train/val/test."""
    cfg = load_params(params)
    from ttmbio.splits.file import write_split_file  # heavy imports only when the stage runs

    report = write_split_file(cfg, out, metrics)
    warn(report.warnings)
    for name, c in report.metrics.items():
        typer.echo(
            f"splits: {name}: "
            + ", ".join(
                f"{s} {c[s]['cases']} cases/{c[s]['subjects']} subjects"
                for s in ("train", "val", "test")
            )
            + f"; {c['skipped']} skipped"
        )
