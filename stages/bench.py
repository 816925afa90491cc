"""``ttmbio bench``: measure the pipeline against its performance targets on this machine."""

from __future__ import annotations

from pathlib import Path

import typer

from ttmbio_stages.common import ParamsOption, one_line_errors


@one_line_errors
def bench(
    quick: bool = typer.Option(False, help="fewer repeats and cases: under 3 minutes on 2 cores."),
    out: Path = typer.Option(Path("bench.json"), help="JSON report to write."),
    repo: Path = typer.Option(Path("."), help="DVC project for the no-op `dvc repro` timing."),
    split_file: Path = typer.Option(Path("data/splits.json"), help="split file (cases to window)."),
    windows: Path = typer.Option(Path("data/windows"), help="window stores (training, predict)."),
    model: Path = typer.Option(
        Path("models/finetune/pretrained-1.0-seed42"),
        help="fine-tuned model for the predict figures.",
    ),
    params: Path = ParamsOption,
) -> None:
    """Windowing, training, predict, memory and no-op repro figures; JSON plus a table."""
    from ttmbio.params import load_params

    cfg = load_params(params)
    from ttmbio.atomic import atomic_write_json
    from ttmbio.bench.run import BenchPaths, format_table, run_bench

    report = run_bench(cfg, BenchPaths(repo, split_file, windows, model), quick)
    atomic_write_json(out, report)
    typer.echo(format_table(report))
    typer.echo(f"-> {out}")
