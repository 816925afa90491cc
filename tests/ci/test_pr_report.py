"""`.ci/pr-report` on a throwaway copy of the repository, and the workflow that posts it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.stages.repo import REPO, copy_repo, run
from tests.test_compare import _scored
from ttmbio.evaluation.scores import write_scores

WORKFLOW = REPO / ".github" / "workflows" / "pr-report.yml"

EVALUATE = {
    "windows": {"auroc": 0.90, "f1": 0.80, "confusion": {"tp": 10, "fp": 2, "tn": 30, "fn": 3}},
    "recordings": {"auroc": 0.95, "n": 20},
}
CALIBRATE = {"method": "temperature", "val_after": {"ece": 0.021}, "val_windows": 48}


def _commit(repo: Path, message: str) -> None:
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", message)


def _write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


def _declared_metrics(repo: Path) -> set[str]:
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    return {
        path for stage in stages.values() for entry in stage.get("metrics", []) for path in entry
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy on `main` with two metrics files committed, then on a fresh `feature` branch."""
    repo = copy_repo(tmp_path)
    assert {"metrics/evaluate.json", "metrics/calibrate.json"} <= _declared_metrics(repo)
    _write_json(repo / "metrics" / "evaluate.json", EVALUATE)
    _write_json(repo / "metrics" / "calibrate.json", CALIBRATE)
    _commit(repo, "metrics")
    run(repo, "git", "checkout", "-q", "-b", "feature")
    return repo


def _row(markdown: str, *cells: str) -> str:
    """The one table row whose cells include all of `cells`."""
    rows = [
        line
        for line in markdown.splitlines()
        if line.startswith("|") and all(c in [x.strip() for x in line.split("|")] for c in cells)
    ]
    assert len(rows) == 1, f"no single row with {cells} in:\n{markdown}"
    return rows[0]


def test_report_lists_changed_params_and_metrics_only(repo: Path) -> None:
    params = repo / "params.yaml"
    doc = yaml.safe_load(params.read_text())
    assert doc["evaluate"]["threshold"] == 0.5
    assert (
        "evaluate"
        in yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]["evaluate"]["params"]
    )
    doc["evaluate"]["threshold"] = 0.3
    params.write_text(yaml.safe_dump(doc, sort_keys=False))
    changed = json.loads(json.dumps(EVALUATE))
    changed["windows"]["confusion"]["tp"] = 12
    _write_json(repo / "metrics" / "evaluate.json", changed)
    _commit(repo, "threshold 0.3")
    base = run(repo, "git", "rev-parse", "--short=7", "main").stdout.strip()
    head = run(repo, "git", "rev-parse", "--short=7", "HEAD").stdout.strip()

    # from another directory, to a file named relative to it
    out = run(repo / "metrics", str(repo / ".ci" / "pr-report"), "main", "report.md")
    assert out.stdout == ""
    report = (repo / "metrics" / "report.md").read_text()

    heading = report.splitlines()[0]
    assert heading.startswith("## ttmbio: metrics and params vs main")
    assert base in heading and head in heading
    assert report.index("### Params") < report.index("### Metrics")
    param_row = _row(report, "params.yaml", "evaluate.threshold")
    assert re.search(r"\|\s*0\.5\s*\|\s*0\.3\s*\|", param_row)
    metric_row = _row(report, "metrics/evaluate.json", "windows.confusion.tp")
    assert re.search(r"\|\s*10\s*\|\s*12\s*\|\s*2\s*\|", metric_row)
    # unchanged values are left out
    for unchanged in ("windows.confusion.fp", "windows.auroc", "recordings.auroc", "val_after.ece"):
        assert unchanged not in report
    assert "metrics/calibrate.json" not in report
    assert "No params changed." not in report and "No metrics changed." not in report


def test_report_on_an_unchanged_branch_says_so(repo: Path) -> None:
    report = run(repo, ".ci/pr-report").stdout  # the base defaults to main
    assert report.startswith("## ttmbio: metrics and params vs main")
    assert "### Params\n\nNo params changed.\n" in report
    assert "### Metrics\n\nNo metrics changed.\n" in report
    assert "|" not in report


def test_report_adds_the_paired_delta_table(repo: Path) -> None:
    """Scored test windows at base and in the workspace: the Δ table from `ttmbio compare`."""
    rng = np.random.default_rng(3)
    labels = np.repeat(rng.integers(0, 2, 30), 4)
    logit = labels + np.repeat(rng.normal(0, 1, 30), 4) + rng.normal(0, 0.3, 120)
    scores = repo / "metrics" / "evaluate_scores.csv"
    run(repo, "git", "checkout", "-q", "main")
    write_scores(scores, "butppg", _scored(1 / (1 + np.exp(-logit)), labels, 30))
    _commit(repo, "base scores")
    run(repo, "git", "checkout", "-q", "feature")
    run(repo, "git", "merge", "-q", "main")
    write_scores(scores, "butppg", _scored(1 / (1 + np.exp(-(logit + 3 * labels))), labels, 30))
    _commit(repo, "better model")
    report = run(repo, ".ci/pr-report", "main").stdout
    section = report[report.index("### Test metrics, paired (base -> workspace)") :]
    auroc = _row(section, "auroc")
    assert auroc.rstrip(" |").endswith("yes, better")
    assert "intervals resample 30 recordings" in section


def test_report_without_scores_at_base_says_so(repo: Path) -> None:
    write_scores(
        repo / "metrics" / "evaluate_scores.csv",
        "butppg",
        _scored(np.linspace(0.1, 0.9, 8), np.array([0, 1] * 4), 4),
    )
    report = run(repo, ".ci/pr-report", "main").stdout
    line = report.split("### Test metrics, paired (base -> workspace)\n\n")[1].splitlines()[0]
    assert line.startswith("No paired comparison: error: main: neither a scores file")


def test_unknown_base_rev_fails_with_one_line(repo: Path) -> None:
    result = run(repo, ".ci/pr-report", "origin/no-such-branch", check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "origin/no-such-branch" in lines[0]
    assert "git fetch origin no-such-branch" in lines[0]


def _readme_install() -> str:
    """The install part of the README's first command: the first bash block's `pip install`."""
    block = re.search(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert block, "README.md has no ```bash block"
    line = next(x for x in block.group(1).splitlines() if x.strip().startswith("pip install"))
    return line.split("&&")[0].strip()


def test_workflow_installs_as_the_readme_says_and_runs_the_report() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert "pull_request" in on
    job = workflow["jobs"]["report"]
    assert workflow["permissions"]["pull-requests"] == "write"
    assert job["timeout-minutes"] == 60
    steps = job["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    runs = [s["run"] for s in steps if "run" in s]
    install = _readme_install()
    assert install == "pip install -c constraints.txt -e ."
    assert any(install in r for r in runs)
    assert any(".ci/pr-report" in r for r in runs)
    assert any("gh pr comment" in r and "--body-file report.md" in r for r in runs)
    assert (REPO / ".ci" / "pr-report").stat().st_mode & 0o111
