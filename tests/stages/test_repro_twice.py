"""The whole DAG twice in a temporary copy, cross-validation on: `dvc repro -f` must give the
same output hashes for every stage (design contract 6), and the folds their metrics (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.stages.repo import TINY_PARAMS, copy_repo, deep_update, dvc

pytestmark = pytest.mark.slow

FOLDS = {"splits": {"folds": [0, 1]}, "evaluate": {"bootstrap": 100}}


def output_hashes(repo: Path) -> dict[str, dict[str, str]]:
    """stage -> {output path: md5} from dvc.lock."""
    stages = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {
        name: {out["path"]: out["md5"] for out in stage.get("outs", [])}
        for name, stage in stages.items()
    }


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    params = deep_update(json.loads(json.dumps(TINY_PARAMS)), FOLDS)
    repo = copy_repo(tmp_path_factory.mktemp("twice"), params)
    result = dvc(repo, "repro")
    for stage in ("cv-fold@0", "cv-fold@1", "cv", "evaluate", "forecast-evaluate"):
        assert f"Running stage '{stage}'" in result.stdout
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


def test_forced_rerun_gives_identical_output_hashes(repo: Path) -> None:
    before = output_hashes(repo)
    dvc(repo, "repro", "-f")
    after = output_hashes(repo)
    assert set(after) == set(before)
    changed = {stage: outs for stage, outs in after.items() if outs != before[stage]}
    assert not changed, f"outputs differ after `dvc repro -f`: {sorted(changed)}"
    status = dvc(repo, "status").stdout.lower()
    assert "up to date" in status
