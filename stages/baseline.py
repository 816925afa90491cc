"""``ttmbio baseline``: the classical-features baseline of a task, beside the fine-tuned model."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from stages.common import ParamsOption, one_line_errors, override_finetune
from ttmbio.params import load_params


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
    from ttmbio.atomic import atomic_write_json
    from ttmbio.baseline.model import run_baselines, summary
    from ttmbio.evaluation.scores import write_scores

    fp = cfg.finetune
    fractions = fp.fractions if label_fraction is None else [fp.label_fraction]
    seeds = fp.seeds if seed is None else [fp.seed]
    runs = [(f, s) for f in fractions for s in seeds]
    results = run_baselines(cfg, windows, fp.task, runs)
    for (fraction, run_seed), (report, known) in results.items():
        run = f"{fraction}-seed{run_seed}"  # as dvc.yaml's fine-tuning matrix spells it
        atomic_write_json(out / fp.task / f"{run}.json", report)
        write_scores(out / fp.task / f"{run}_scores.csv", report["dataset"], known)
        w = report["windows"]
        typer.echo(
            f"baseline {fp.task} ({fraction:.0%} labels, seed {run_seed}): {report['model']} "
            f"on {len(report['features'])} features, {report['n_train_windows']} train "
            f"windows, val AUROC {report['val_auroc']:.3f}; test AUROC {w['auroc']:.3f} "
            f"[{w['auroc_ci_low']:.3f}, {w['auroc_ci_high']:.3f}] over {w['n_units']} "
            f"{w['bootstrap_unit']}s, AUPRC {w['auprc']:.3f}"
        )
    atomic_write_json(out / f"{fp.task}.json", summary(fp.task, results))
    typer.echo(
        f"baseline {fp.task}: {len(runs)} run(s) -> {out / fp.task}, summary "
        f"{out / fp.task}.json ({time.perf_counter() - started:.1f} s)"
    )
