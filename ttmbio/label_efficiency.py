"""Label efficiency over seeds: does the pretrained encoder beat random init, and by how much?

The fine-tuning matrix runs every init x label fraction x seed, and each run writes its
scores of the **test** split (never used to train or early-stop; ``ttmbio.finetune.scores``).
Here those scores are compared: for each fraction the report gives
each init's mean and sample sd over seeds, and the paired pretrained - scratch difference.
Its interval comes from a two-level bootstrap: each resample draws seeds (pairs of runs that
share a seed, hence a label subset) and, for all of them, the same independent units
(recordings or subjects), so both the training noise between seeds and the sampling noise of
the test set widen it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from ttmbio.atomic import atomic_write_json
from ttmbio.bootstrap import CLASSIFICATION, REGRESSION, percentile_interval, unit_weights
from ttmbio.errors import ConfigError
from ttmbio.evaluation.metrics import bootstrap_settings, labelled, resolve_unit, units_of
from ttmbio.finetune.scores import Scored, read_test_scores
from ttmbio.params import Params

INITS = ("pretrained", "scratch")


def run_name(init: str, fraction: float, seed: int) -> str:
    """The fine-tuning matrix's run folder name, as dvc.yaml spells it."""
    return f"{init}-{fraction}-seed{seed}"


def score_runs(
    params: Params, score: Callable[[str], dict[str, np.ndarray]]
) -> dict[tuple[str, float, int], Scored]:
    """Every run of the matrix through ``score(run name)`` (the run's scored test windows),
    its labelled windows only."""
    fp = params.finetune
    runs = {
        (init, fraction, seed): labelled(score(run_name(init, fraction, seed)))
        for init in INITS
        for fraction in fp.fractions
        for seed in fp.seeds
    }
    keys = [r["case_id"].tolist() for r in runs.values()]
    if any(k != keys[0] for k in keys):
        raise ConfigError("the fine-tuning runs scored different test windows; re-run them")
    return runs


def summarize(params: Params, runs: Mapping[tuple[str, float, int], Scored]) -> dict[str, Any]:
    """Per fraction: each init's mean/sd over seeds and the paired difference's interval."""
    fp, ev = params.finetune, params.evaluate
    binary = fp.spec.kind == "binary"
    name = "auroc" if binary else "mae"
    metric = (CLASSIFICATION if binary else REGRESSION)[name]
    first = next(iter(runs.values()))
    unit = resolve_unit(ev.bootstrap_unit, fp.spec.dataset)
    units = units_of(first, unit)
    settings = bootstrap_settings(ev, params.calibrate.n_bins)
    rng = np.random.default_rng(settings.seed)
    weights = unit_weights(units, settings.n, rng, first["label"] if binary else None)
    seed_draws = rng.integers(0, len(fp.seeds), (settings.n, len(fp.seeds)))
    ones = np.ones((1, len(first["label"])))
    report: dict[str, Any] = {
        "task": fp.task,
        "metric": f"test_{name}",
        "seeds": list(fp.seeds),
        "bootstrap_unit": unit,
        "n_units": len(np.unique(units)),
        "n_windows": len(first["label"]),
        "fractions": {},
    }
    for fraction in fp.fractions:
        entry: dict[str, Any] = {}
        deltas = []
        for init in INITS:
            values = [
                float(metric(r["score"], r["label"], ones, settings.threshold, settings.n_bins)[0])
                for r in (runs[(init, fraction, s)] for s in fp.seeds)
            ]
            entry[init] = {
                "mean": float(np.mean(values)),
                **({"sd": float(np.std(values, ddof=1))} if len(values) > 1 else {}),
                "per_seed": {str(s): v for s, v in zip(fp.seeds, values, strict=True)},
            }
        for seed in fp.seeds:
            pre, scr = runs[("pretrained", fraction, seed)], runs[("scratch", fraction, seed)]
            deltas.append(
                metric(pre["score"], pre["label"], weights, settings.threshold, settings.n_bins)
                - metric(scr["score"], scr["label"], weights, settings.threshold, settings.n_bins)
            )
        per_seed = np.stack(deltas)  # [seeds, resamples]
        resampled = per_seed[seed_draws.T, np.arange(settings.n)].mean(axis=0)
        low, high = percentile_interval(resampled, settings.confidence)
        delta = entry["pretrained"]["mean"] - entry["scratch"]["mean"]
        entry["pretrained_minus_scratch"] = {
            "delta": delta,
            "ci_low": low,
            "ci_high": high,
            # 1 / 0 rather than a bool, which `dvc metrics show` would drop
            "excludes_0": int(low > 0 or high < 0),
        }
        report["fractions"][str(fraction)] = entry
    return report


def markdown(report: Mapping[str, Any]) -> str:
    """The README's table: mean +- sd per init, the paired difference and its interval."""
    n = len(report["seeds"])
    lines = [
        f"| labels | pretrained | scratch | pretrained - scratch [{n} seeds, paired CI] |",
        "| --- | --- | --- | --- |",
    ]
    for fraction, e in report["fractions"].items():
        cells = []
        for init in INITS:
            sd = e[init].get("sd")
            cells.append(f"{e[init]['mean']:.3f}" + (f" ± {sd:.3f}" if sd is not None else ""))
        d = e["pretrained_minus_scratch"]
        verdict = "" if d["excludes_0"] else " (not significant)"
        lines.append(
            f"| {float(fraction):.0%} | {cells[0]} | {cells[1]} | {d['delta']:+.3f} "
            f"[{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]{verdict} |"
        )
    return "\n".join(lines)


class LabelEfficiencyReport(BaseModel):
    """What ``ttmbio label-efficiency`` wrote (the metrics file's document) and the table it
    prints."""

    model_config = ConfigDict(frozen=True)

    metrics_file: Path
    report: dict[str, Any]

    def lines(self) -> list[str]:
        r = self.report
        return [
            f"label efficiency ({r['task']}, {r['metric']}, {len(r['seeds'])} seed(s), "
            f"intervals over {r['n_units']} {r['bootstrap_unit']}s):",
            markdown(r),
        ]


def write_label_efficiency(params: Params, models: Path, metrics: Path) -> LabelEfficiencyReport:
    """Score every init x fraction x seed run under ``models`` on test, write the summary."""
    report = summarize(params, score_runs(params, lambda run: read_test_scores(models / run)))
    atomic_write_json(metrics, report)
    return LabelEfficiencyReport(metrics_file=metrics, report=report)
