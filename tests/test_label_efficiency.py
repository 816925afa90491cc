"""Label-efficiency summary over seeds: means, sds and the paired two-level interval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ttmbio.errors import ConfigError
from ttmbio.finetune.scores import write_run_scores
from ttmbio.label_efficiency import (
    markdown,
    run_name,
    score_runs,
    summarize,
    write_label_efficiency,
)
from ttmbio.params import Params

N_CASES, PER = 30, 4


def _params(seeds: list[int]) -> Params:
    return Params.model_validate(
        {"finetune": {"seeds": seeds, "fractions": [0.1, 1.0]}, "evaluate": {"bootstrap": 400}}
    )


def _scorer(gain: dict[str, float], noise: float = 0.5):
    """Scores whose class separation is ``gain[init]`` plus seed noise, per run name."""
    labels = np.repeat(np.random.default_rng(0).integers(0, 2, N_CASES), PER).astype(float)
    offset = np.repeat(np.random.default_rng(1).normal(0, 1, N_CASES), PER)

    def score(run: str) -> dict[str, np.ndarray]:
        init, fraction, seed = run.split("-")
        rng = np.random.default_rng(
            [int(seed.removeprefix("seed")), int(float(fraction) * 10), init == "scratch"]
        )
        logit = gain[init] * labels + offset + rng.normal(0, noise, len(labels))
        return {
            "score": 1 / (1 + np.exp(-logit)),
            "label": labels,
            "case_id": np.repeat([str(100000 + i) for i in range(N_CASES)], PER),
            "subject_id": np.repeat([str(i // 2) for i in range(N_CASES)], PER),
            "start_s": np.tile(np.arange(PER) * 4.0, N_CASES),
        }

    return score


def test_run_names_match_the_dvc_matrix() -> None:
    assert run_name("pretrained", 0.1, 42) == "pretrained-0.1-seed42"


def test_summary_means_sds_and_a_clear_gain_is_significant() -> None:
    params = _params([1, 2, 3])
    score = _scorer({"pretrained": 3.0, "scratch": 0.5})
    report = summarize(params, score_runs(params, score))
    assert report["metric"] == "test_auroc" and report["bootstrap_unit"] == "recording"
    assert report["n_units"] == N_CASES and report["seeds"] == [1, 2, 3]
    entry = report["fractions"]["0.1"]
    values = [
        roc_auc_score(s["label"], s["score"])
        for s in (score(run_name("pretrained", 0.1, seed)) for seed in (1, 2, 3))
    ]
    assert entry["pretrained"]["mean"] == pytest.approx(np.mean(values))
    assert entry["pretrained"]["sd"] == pytest.approx(np.std(values, ddof=1))
    d = entry["pretrained_minus_scratch"]
    assert d["delta"] == pytest.approx(entry["pretrained"]["mean"] - entry["scratch"]["mean"])
    assert d["ci_low"] > 0 and d["excludes_0"] == 1
    table = markdown(report)
    assert "| 10% |" in table and "3 seeds" in table and "not significant" not in table


def test_equal_inits_are_not_significant() -> None:
    params = _params([1, 2, 3])
    report = summarize(params, score_runs(params, _scorer({"pretrained": 1.0, "scratch": 1.0})))
    for entry in report["fractions"].values():
        d = entry["pretrained_minus_scratch"]
        assert d["ci_low"] < 0 < d["ci_high"] and d["excludes_0"] == 0
    assert "not significant" in markdown(report)


def test_one_seed_has_no_sd_and_runs_on_other_windows_are_refused() -> None:
    params = _params([7])
    score = _scorer({"pretrained": 2.0, "scratch": 1.0})
    report = summarize(params, score_runs(params, score))
    assert "sd" not in report["fractions"]["1.0"]["scratch"]

    def shifted(run: str) -> dict[str, np.ndarray]:
        out = score(run)
        if run.startswith("scratch"):
            out["case_id"] = out["case_id"][::-1].copy()
        return out

    with pytest.raises(ConfigError, match="different test windows"):
        score_runs(params, shifted)


def test_write_label_efficiency_reads_the_run_folders_and_writes_the_summary(
    tmp_path: Path,
) -> None:
    params = _params([1, 2])
    score = _scorer({"pretrained": 2.0, "scratch": 1.0})
    for init in ("pretrained", "scratch"):
        for fraction in (0.1, 1.0):
            for seed in (1, 2):
                run = tmp_path / "models" / run_name(init, fraction, seed)
                run.mkdir(parents=True)
                write_run_scores(run, "test", score(run_name(init, fraction, seed)))
    written = write_label_efficiency(params, tmp_path / "models", tmp_path / "le.json")
    assert json.loads((tmp_path / "le.json").read_text()) == written.report
    assert written.report == summarize(params, score_runs(params, score))
    header, table = written.lines()
    assert header.startswith("label efficiency (") and "2 seed(s)" in header
    assert table == markdown(written.report)
