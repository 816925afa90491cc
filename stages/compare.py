"""``ttmbio compare``: paired test-metric differences between two revisions, experiments or
scores files, with cluster-bootstrap intervals."""

from __future__ import annotations

from pathlib import Path

import typer

from ttmbio.params import load_params
from ttmbio_stages.common import ParamsOption, one_line_errors


@one_line_errors
def compare(
    base: str = typer.Argument(..., help="a scores file, git revision or experiment name."),
    new: str = typer.Argument(..., help="the same for the side to compare against base."),
    unit: str = typer.Option(
        None, help="auto | recording | subject | window (default: evaluate.bootstrap_unit)."
    ),
    scores: str = typer.Option(
        "metrics/evaluate_scores.csv", help="scores file path inside a revision."
    ),
    md: bool = typer.Option(False, "--md", help="print a markdown table only."),
    params: Path = ParamsOption,
) -> None:
    """For each test metric: base, new, Δ, the paired cluster-bootstrap interval of Δ, and
    whether it excludes 0 (both sides must score the same test windows)."""
    cfg = load_params(params)
    from ttmbio.compare import compare_scores, load_side, markdown_table
    from ttmbio.errors import ConfigError
    from ttmbio.evaluation.metrics import UNIT_FIELDS, bootstrap_settings

    chosen = unit or cfg.evaluate.bootstrap_unit
    if chosen != "auto" and chosen not in UNIT_FIELDS:
        raise ConfigError(f"--unit {chosen!r}: use auto, recording, subject or window")
    left, right = load_side(base, path=scores), load_side(new, path=scores)
    settings = bootstrap_settings(cfg.evaluate, cfg.calibrate.n_bins)
    rows, resolved, n_units = compare_scores(left, right, chosen, settings)
    if not md:
        typer.echo(
            f"compare: {left.source} -> {right.source}: {len(left.label)} {left.dataset} test "
            f"windows of {n_units} {resolved}s, {settings.n} paired resamples"
        )
    typer.echo(markdown_table(rows, settings.confidence))
    if md:
        typer.echo(
            f"\n{len(left.label)} {left.dataset} test windows; intervals resample {n_units} "
            f"{resolved}s ({settings.n} paired resamples)."
        )
