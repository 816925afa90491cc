"""The DVC pipeline end to end in a temporary copy of the repository, built with ``dvc repro``
(slow): what it writes, ``ttmbio bench --quick`` on it, and a push to a remote and a pull into
a fresh clone. DVC's experiment workflow runs on the second build (test_dvc_experiments.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import zarr

from tests.stages.repo import (
    check_against_other_build,
    copy_repo,
    dvc,
    record_build,
    run,
    tiny_dag_params,
)

pytestmark = pytest.mark.slow
MODULE = "tests/stages/test_dvc_pipeline.py"


@pytest.fixture(scope="module")
def repro_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("repo"), tiny_dag_params())
    result = dvc(repo, "repro")
    for stage in (
        "synth",
        "splits",
        "windows",
        "pretrain",
        "finetune@pretrained-0.1-42",
        "finetune@scratch-1.0-42",
        "calibrate",
        "evaluate",
        "label-efficiency",
        "finetune-hypotension@pretrained-0.1-42",
        "finetune-hypotension@scratch-1.0-42",
        "calibrate-hypotension",
        "evaluate-hypotension",
        "label-efficiency-hypotension",
        "baseline@butppg_quality",
        "baseline@vitaldb_hypotension_forecast",
        "cv-fold@0",
        "cv-fold@1",
        "cv",
        "export",
        "forecast-data",
        "forecast-train",
        "forecast-finetune",
        "forecast-evaluate",
    ):
        assert f"Running stage '{stage}'" in result.stdout
    record_build(tmp_path_factory, MODULE, repo)
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "repro")
    return repo


def test_an_independent_build_gives_identical_output_hashes(
    repro_repo: Path, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Against test_dvc_experiments.py's build of the same params (or `dvc repro -f` here)."""
    check_against_other_build(request, tmp_path_factory, MODULE, repro_repo)


def test_repro_writes_real_format_data_splits_and_metrics(repro_repo: Path) -> None:
    assert len(list((repro_repo / "data/raw/vitaldb").glob("*.vital"))) == 10
    assert (repro_repo / "data/raw/butppg/quality-hr-ann.csv").is_file()
    split = json.loads((repro_repo / "data/splits.json").read_text())
    assert len(split["datasets"]["vitaldb"]["cases"]) == 10
    shown = json.dumps(json.loads(dvc(repro_repo, "metrics", "show", "--json").stdout))
    assert "metrics/splits.json" in shown and "metrics/windows.json" in shown
    assert '"rejected"' in shown
    group = zarr.open_group(str(repro_repo / "data/windows/vitaldb/train.zarr"), mode="r")
    assert group["signals"].attrs["channels"] == ["PPG", "ECG", "ABP"]
    assert (
        group["signals"].shape[0] > 0 and (repro_repo / "data/windows/vitaldb/stats.json").is_file()
    )
    assert (repro_repo / "plots/windows/vitaldb_sqi.png").stat().st_size > 1000
    assert "metrics/pretrain/metrics.json" in shown and "nmse_ratio_to_interp" in shown
    pretrain = json.loads((repro_repo / "metrics/pretrain/metrics.json").read_text())
    assert {"probe_hr_bpm_r2", "probe_hr_bpm_r2_random", "effective_rank_random"} <= set(pretrain)
    assert (repro_repo / "models/pretrain/best.pt").is_file()
    assert "metrics/finetune/scratch-0.1-seed42/metrics.json" in shown and "val_auroc" in shown
    assert "metrics/calibrate.json" in shown and (repro_repo / "models/calibrate").is_dir()
    assert "metrics/evaluate.json" in shown and "auroc_ci_low" in shown and '"tp"' in shown
    evaluated = json.loads((repro_repo / "metrics/evaluate.json").read_text())["windows"]
    assert evaluated["bootstrap_unit"] == "recording" and evaluated["n_units"] > 1
    scores = (repro_repo / "metrics/evaluate_scores.csv").read_text().splitlines()
    assert len(scores) == evaluated["n"] + 1 and scores[0].startswith("dataset,case_id")
    efficiency = json.loads((repro_repo / "metrics/label_efficiency.json").read_text())
    assert set(efficiency["fractions"]) == {"0.1", "1.0"} and efficiency["seeds"] == [42]
    assert "pretrained_minus_scratch" in efficiency["fractions"]["0.1"]
    assert json.loads((repro_repo / "metrics/cv.json").read_text())["k"] == 2  # two folds
    hypo = json.loads((repro_repo / "metrics/hypotension/label_efficiency.json").read_text())
    assert hypo["task"] == "vitaldb_hypotension_forecast"
    assert set(hypo["fractions"]) == {"0.1", "1.0"} and hypo["bootstrap_unit"] == "subject"
    hypo_test = json.loads((repro_repo / "metrics/hypotension/evaluate.json").read_text())
    assert 0.0 <= hypo_test["windows"]["auroc"] <= 1.0
    windows = json.loads((repro_repo / "metrics/windows.json").read_text())["vitaldb"]
    counts = windows["train"]["hypotension_forecast"]
    assert counts["positive"] > 0 and counts["negative"] > 0
    for task in ("butppg_quality", "vitaldb_hypotension_forecast"):
        base = json.loads((repro_repo / f"metrics/baseline/{task}.json").read_text())
        assert set(base["fractions"]) == {"0.1", "1.0"}
        assert 0.0 <= base["fractions"]["1.0"]["seed42"]["auroc"] <= 1.0
    for png in ("roc", "pr", "reliability", "confusion"):
        assert (repro_repo / f"plots/evaluate/{png}.png").stat().st_size > 1000
    assert "metrics/forecast/evaluate.json" in shown
    forecast = json.loads((repro_repo / "metrics/forecast/evaluate.json").read_text())
    for method in ("finetuned", "zero_shot", "persistence"):
        assert set(forecast[method]) >= {"30min", "60min", "full"}
        assert forecast[method]["30min"]["rmse_mgdl"] > 0
    for task in ("butppg_quality", "vitaldb_hypotension_forecast"):
        exported = repro_repo / "models/export" / task
        assert {"model.onnx", "calibrator.json", "README.md"} <= {
            p.name for p in exported.iterdir()
        }
    assert (repro_repo / "models/export/encoder/model.safetensors").is_file()
    for png in ("examples", "clarke"):
        assert (repro_repo / f"plots/forecast/{png}.png").stat().st_size > 1000
    assert (
        "nothing to reproduce" in dvc(repro_repo, "status").stdout.lower()
        or "up to date" in dvc(repro_repo, "status").stdout.lower()
    )


def test_bench_quick_reports_every_figure(repro_repo: Path) -> None:
    """`ttmbio bench --quick` on the tiny pipeline: every figure measured and positive."""
    run(
        repro_repo, sys.executable, "-m", "ttmbio_stages", "bench", "--quick", "--out", "bench.json"
    )
    report = json.loads((repro_repo / "bench.json").read_text())
    numbers = list(_numbers({k: report[k] for k in FIGURES}))
    assert len(numbers) >= 30 and all(v > 0 for _, v in numbers), numbers
    assert set(report["summary"]) == {
        "windowing_x_realtime_per_core",
        "training_zarr_vs_memory",
        "predict_vs_backbone",
        "predict_windows_per_s",
        "windowing_vs_floor",
        "windows_rss_4n_to_n",
        "windows_rss_long_to_short_case",
        "loader_2_workers_windows_per_s",
        "noop_repro_s",
    }
    assert report["machine"]["cpu_count"] > 0 and report["machine"]["versions"]["torch"]


FIGURES = (
    "windowing",
    "windowing_floor",
    "windows_memory",
    "long_case_memory",
    "loader",
    "training",
    "dropout",
    "inference",
    "onnx",
    "noop_repro",
)


def _numbers(tree: object, path: str = ""):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _numbers(value, f"{path}.{key}")
    elif isinstance(tree, int | float) and not isinstance(tree, bool):
        yield path, tree


# last: it commits (the remote's config) into the repository the other tests read
def test_push_to_a_local_remote_and_pull_into_a_fresh_clone(
    repro_repo: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote"
    dvc(repro_repo, "remote", "add", "-d", "shared", str(remote))
    run(repro_repo, "git", "commit", "-q", "-am", "remote")
    dvc(repro_repo, "push")
    clone = tmp_path / "clone"
    run(tmp_path, "git", "clone", "-q", str(repro_repo), str(clone))
    dvc(clone, "pull")
    for rel in ("data/splits.json", "data/raw/vitaldb/1.vital", "data/raw/butppg/subject-info.csv"):
        assert (clone / rel).read_bytes() == (repro_repo / rel).read_bytes(), rel
    status = dvc(clone, "status").stdout.lower()
    assert "up to date" in status or "nothing to reproduce" in status
    shown = [
        next(iter(json.loads(dvc(repo, "metrics", "show", "--json").stdout).values()))["data"]
        for repo in (repro_repo, clone)
    ]
    assert shown[0] == shown[1] and "metrics/evaluate.json" in shown[0]
