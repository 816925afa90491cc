"""``ttmbio baseline``: the classical-features baseline of a task, beside the fine-tuned model."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ttmbio.params import load_params
from ttmbio_stages.common import ParamsOption, one_line_errors, override_finetune


@one_line_errors
def baseline(
    task: str = typer.Option(
        None, help="a binary task of ttmbio.params.TASKS (default: finetune.task)."
    ),
    label_fraction: float = typer.Option(
        None, help="one share of train labels (default: every one of finetune.fractions)."
    ),
    seed: int = typer.Option(None, help="one seed (default: every one of finetune.seeds)."),
    windows: Path = typer.Option(Path("data/windows"), help="window stores to read."),
    out: Path = typer.Option(
        Path("metrics/baseline"),
        help="writes <out>/<task>.json and <out>/<task>/<fraction>-seed<seed>.json + _scores.csv.",
    ),
    params: Path = ParamsOption,
) -> None:
    """Hand-crafted features + logistic regression or gradient boosting on the same train
    labels as each fine-tuning run of the matrix; calibrated on val, scored on test like
    `ttmbio evaluate`."""
    started = time.perf_counter()
    cfg = load_params(params)
    cfg = override_finetune(cfg, task=task, label_fraction=label_fraction, seed=seed)
    from ttmbio.baseline.run import write_baselines

    fp = cfg.finetune
    fractions = fp.fractions if label_fraction is None else [fp.label_fraction]
    seeds = fp.seeds if seed is None else [fp.seed]
    runs = [(f, s) for f in fractions for s in seeds]
    report = write_baselines(cfg, windows, out, runs)
    for line in report.lines():
        typer.echo(line)
    typer.echo(
        f"baseline {fp.task}: {len(runs)} run(s) -> {out / fp.task}, summary "
        f"{out / fp.task}.json ({time.perf_counter() - started:.1f} s)"
    )
