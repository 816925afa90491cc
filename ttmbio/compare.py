"""Paired comparison of two scored test sets: what a change did to each metric, with the
interval of the difference from a paired cluster bootstrap.

A side is a scores file on disk, or a git revision or DVC experiment name whose
``metrics/evaluate_scores.csv`` is read through ``dvc.api`` (so it needs no re-run).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ttmbio.bootstrap import BootstrapSettings, PairedDelta, paired_deltas
from ttmbio.errors import ConfigError
from ttmbio.evaluation.metrics import resolve_unit, units_of
from ttmbio.evaluation.scores import ScoredWindows, pair, parse_scores, read_scores

SCORES_FILE = "metrics/evaluate_scores.csv"


def load_side(ref: str, repo: Path = Path("."), path: str = SCORES_FILE) -> ScoredWindows:
    """A scores file at ``ref``: an existing file, else a git revision or experiment name."""
    if Path(ref).is_file():
        return read_scores(Path(ref))
    import dvc.api

    try:
        text = dvc.api.read(path, repo=str(repo), rev=ref)
    except Exception as err:  # dvc raises many kinds for an unknown rev or a missing file
        raise ConfigError(
            f"{ref}: neither a scores file nor a revision/experiment with {path} "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); run "
            "`ttmbio evaluate` there, or pass a file"
        ) from None
    return parse_scores(text, f"{ref}:{path}")


def compare_scores(
    base: ScoredWindows, new: ScoredWindows, unit: str, settings: BootstrapSettings
) -> tuple[list[PairedDelta], str, int]:
    """Paired deltas of every metric; also the unit resampled and how many there were."""
    new_probability = pair(base, new)
    unit = resolve_unit(unit, base.dataset)
    units = units_of({"case_id": base.case_id, "subject_id": base.subject_id}, unit)
    rows = paired_deltas(base.probability, new_probability, base.label, units, settings)
    return rows, unit, len(np.unique(units))


def markdown_table(rows: Sequence[PairedDelta], confidence: float) -> str:
    """One row per metric: base, new, delta, its interval and whether it excludes 0."""
    pct = f"{confidence:.0%}"
    lines = [
        f"| metric | base | new | Δ (new - base) | {pct} paired CI of Δ | excludes 0 |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        verdict = ("yes, better" if r.better else "yes, worse") if r.significant else "no"
        lines.append(
            f"| {r.metric} | {r.base:.4f} | {r.new:.4f} | {r.delta:+.4f} | "
            f"[{r.low:+.4f}, {r.high:+.4f}] | {verdict} |"
        )
    return "\n".join(lines)
