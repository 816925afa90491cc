"""The whole DAG in a temporary copy, cross-validation on, every stage's command run in one
fresh Python process (``repro_in_process``): an independent build from test_dvc_pipeline.py's
``dvc repro`` (or from `dvc repro -f` when that module is not run) must give the same output
hashes for every stage (design contract 6), and the folds their metrics (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.stages.repo import (
    check_against_other_build,
    copy_repo,
    dvc,
    output_hashes,
    record_build,
    repro_in_process,
    tiny_dag_params,
)

pytestmark = pytest.mark.slow
MODULE = "tests/stages/test_repro_twice.py"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("twice"), tiny_dag_params())
    ran = repro_in_process(repo)
    assert {"cv-fold@0", "cv-fold@1", "cv", "evaluate", "forecast-evaluate"} <= set(ran)
    assert "up to date" in dvc(repo, "status").stdout.lower()  # dvc.lock holds every stage
    record_build(tmp_path_factory, MODULE, repo)
    return repo


def test_folds_report_per_fold_and_aggregate_metrics(repo: Path) -> None:
    shown = json.loads(dvc(repo, "metrics", "show", "--json").stdout)
    metrics = next(iter(shown.values()))["data"]
    for fold in (0, 1):
        row = metrics[f"metrics/cv/fold-{fold}.json"]["data"]
        assert row["fold"] == fold and 0.0 <= row["test"]["windows"]["auroc"] <= 1.0
        assert (repo / f"models/cv/fold-{fold}/calibrator.json").is_file()
    cv = metrics["metrics/cv.json"]["data"]
    assert cv["k"] == 2 and set(cv["folds"]) == {"0", "1"}
    aurocs = [cv["folds"][f]["test.windows.auroc"] for f in ("0", "1")]
    assert cv["mean"]["test.windows.auroc"] == pytest.approx(sum(aurocs) / 2)
    assert cv["std"]["test.windows.auroc"] == pytest.approx(abs(aurocs[0] - aurocs[1]) / 2**0.5)


def test_an_independent_build_gives_identical_output_hashes(
    repo: Path, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Against test_dvc_pipeline.py's build of the same params (or `dvc repro -f` here)."""
    check_against_other_build(request, tmp_path_factory, MODULE, repo)


def test_a_forced_rerun_in_place_resumes_to_the_same_outputs(repo: Path) -> None:
    """`dvc repro -f` where the first run left its work folder: pretraining resumes from its
    last checkpoint, writes the same bytes (in its own process, under DVC), and the pipeline
    stays up to date."""
    before = output_hashes(repo)["pretrain"]
    assert (repo / "checkpoints/pretrain").is_dir()
    dvc(repo, "repro", "-f", "-s", "pretrain")
    assert output_hashes(repo)["pretrain"] == before
    assert "up to date" in dvc(repo, "status").stdout.lower()
