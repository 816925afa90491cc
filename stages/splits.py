"""``ttmbio splits``: subject-level train/val/test (and fold) assignment."""

from __future__ import annotations

from pathlib import Path

import typer

from stages.common import ParamsOption, one_line_errors, warn
from ttmbio.atomic import atomic_write_json
from ttmbio.params import load_params


@one_line_errors
def splits(
    out: Path = typer.Option(Path("data/splits.json"), help="split file to write."),
    metrics: Path = typer.Option(Path("metrics/splits.json"), help="counts per split."),
    params: Path = ParamsOption,
) -> None:
    """Index the configured sources and assign whole subjects to train/val/test."""
    cfg = load_params(params)
    from ttmbio.splits.file import build_split_file  # heavy imports only when the stage runs

    doc, counts = build_split_file(cfg)
    for name, dataset in doc["datasets"].items():
        warn(f"{name}: {w}" for w in dataset["warnings"])
        warn(f"skipped {s['reason']}" for s in dataset["skipped"])
        warn(dataset["notes"])
    atomic_write_json(out, doc)
    atomic_write_json(metrics, counts)
    for name, c in counts.items():
        typer.echo(
            f"splits: {name}: "
            + ", ".join(
                f"{s} {c[s]['cases']} cases/{c[s]['subjects']} subjects"
                for s in ("train", "val", "test")
            )
            + f"; {c['skipped']} skipped"
        )
