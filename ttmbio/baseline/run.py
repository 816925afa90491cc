"""The baseline stage as a library call: every (fraction, seed) run of a task, written where
``dvc.yaml`` expects them, and one typed report the CLI prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ttmbio.atomic import atomic_write_json
from ttmbio.baseline.model import run_baselines, summary
from ttmbio.evaluation.scores import write_scores
from ttmbio.params import Params


class BaselineReport(BaseModel):
    """What ``ttmbio baseline`` did: each run's report (by ``<fraction>-seed<seed>``, as
    the fine-tuning matrix names runs), where they went and the summary file."""

    model_config = ConfigDict(frozen=True)

    task: str
    folder: Path
    summary_file: Path
    runs: dict[str, dict[str, Any]]

    def lines(self) -> list[str]:
        """One line per run: the model, its features and its test AUROC with interval."""
        out = []
        for report in self.runs.values():
            w = report["windows"]
            out.append(
                f"baseline {self.task} ({report['label_fraction']:.0%} labels, seed "
                f"{report['seed']}): {report['model']} on {len(report['features'])} features, "
                f"{report['n_train_windows']} train windows, val AUROC "
                f"{report['val_auroc']:.3f}; test AUROC {w['auroc']:.3f} "
                f"[{w['auroc_ci_low']:.3f}, {w['auroc_ci_high']:.3f}] over {w['n_units']} "
                f"{w['bootstrap_unit']}s, AUPRC {w['auprc']:.3f}"
            )
        return out


def write_baselines(
    params: Params, windows: Path, out: Path, runs: list[tuple[float, int]]
) -> BaselineReport:
    """Fit and score the baseline of ``finetune.task`` for each (fraction, seed) of ``runs``;
    write ``<out>/<task>/<fraction>-seed<seed>.json`` (+ ``_scores.csv``) and
    ``<out>/<task>.json``, the summary ``dvc metrics show`` reads."""
    task = params.finetune.task
    results = run_baselines(params, windows, task, runs)
    written: dict[str, dict[str, Any]] = {}
    for (fraction, seed), (report, known) in results.items():
        run = f"{fraction}-seed{seed}"
        atomic_write_json(out / task / f"{run}.json", report)
        write_scores(out / task / f"{run}_scores.csv", report["dataset"], known)
        written[run] = report
    atomic_write_json(out / f"{task}.json", summary(task, results))
    return BaselineReport(
        task=task, folder=out / task, summary_file=out / f"{task}.json", runs=written
    )
