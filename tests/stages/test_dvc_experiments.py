"""DVC's experiment workflow on the tiny DAG, built here a second way (slow).

The build: every stage's command run in one fresh Python process (``repro_in_process``), then
``dvc commit``. It is independent of test_dvc_pipeline.py's ``dvc repro`` (or of `dvc repro -f`
when that module is not run), and the two must give the same output hashes for every stage
(design contract 6). On it: the folds' metrics, a forced rerun that resumes, and what users do
next (``dvc exp run -S``, a queued sweep, ``dvc metrics diff``, ``ttmbio compare``, ``dvc exp
apply``). The experiments run here rather than beside the ``dvc repro`` build so that the two
halves of the end-to-end work run on both xdist workers at once.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.stages.repo import (
    check_against_other_build,
    copy_repo,
    dvc,
    output_hashes,
    record_build,
    repro_in_process,
    run,
    tiny_dag_params,
)

pytestmark = pytest.mark.slow
MODULE = "tests/stages/test_dvc_experiments.py"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("experiments"), tiny_dag_params())
    ran = repro_in_process(repo)
    assert {"cv-fold@0", "cv-fold@1", "cv", "evaluate", "forecast-evaluate"} <= set(ran)
    assert "up to date" in dvc(repo, "status").stdout.lower()  # dvc.lock holds every stage
    record_build(tmp_path_factory, MODULE, repo)
    run(repo, "git", "add", "-A")
    run(repo, "git", "commit", "-q", "-m", "build")  # the baseline the experiments start from
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


def _reset(repo: Path) -> None:
    """Back to the committed workspace: params and outputs."""
    run(repo, "git", "checkout", "-q", "--", ".")
    dvc(repo, "checkout", "-q")


def _experiments(repo: Path) -> set[str]:
    """The names of the experiments on the current commit."""
    return set(dvc(repo, "exp", "list", "--name-only").stdout.split())


@contextlib.contextmanager
def _leaves_no_trace(repo: Path) -> Iterator[None]:
    """Whatever happens inside, the committed workspace comes back and the experiments made
    inside are removed: the sweep's tests read this commit's experiments as theirs alone."""
    before = _experiments(repo)
    try:
        yield
    finally:
        _reset(repo)
        made = _experiments(repo) - before
        if made:
            dvc(repo, "exp", "remove", *sorted(made))


def _applied_metrics(repo: Path, experiment: str) -> dict:
    """``metrics/evaluate.json`` as ``experiment`` left it (applied, read, workspace reset)."""
    try:
        dvc(repo, "exp", "apply", experiment)
        return json.loads((repo / "metrics/evaluate.json").read_text())
    finally:
        _reset(repo)


def test_exp_run_with_another_seed_changes_the_split(repo: Path) -> None:
    before = (repo / "data/splits.json").read_text()
    with _leaves_no_trace(repo):
        dvc(repo, "exp", "run", "splits", "-S", "splits.seed=7")  # only the stage compared
        after = (repo / "data/splits.json").read_text()
        assert before != after
        params = dvc(repo, "params", "diff").stdout
        assert "splits.seed" in params and "42" in params and "7" in params
        metrics = dvc(repo, "metrics", "diff").stdout
        assert "metrics/splits.json" in metrics and "vitaldb.val.age_mean" in metrics


SWEEP = (0.2, 0.8)


@pytest.fixture(scope="module")
def threshold_sweep(repo: Path) -> Iterator[dict[float, str]]:
    """The README's sweep recipe on a cheap param and one target stage (evaluate; the
    mechanics are the README's): two experiments queued and run. Yields threshold ->
    experiment name; the metrics-diff, compare and apply tests all read these two."""
    _reset(repo)  # a queued experiment starts from the workspace as it stands
    before = _experiments(repo)
    thresholds = ",".join(map(str, SWEEP))
    dvc(repo, "exp", "run", "evaluate", "--queue", "-S", f"evaluate.threshold={thresholds}")
    dvc(repo, "queue", "start", "-j", "1")
    deadline = time.monotonic() + 600
    while True:
        status = dvc(repo, "queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        assert time.monotonic() < deadline, status
        time.sleep(2)
    assert status.count("Success") == 2, status
    made = _experiments(repo) - before
    table = dvc(repo, "exp", "show", "--csv").stdout
    names = {
        float(r["evaluate.threshold"]): r["Experiment"]
        for r in csv.DictReader(io.StringIO(table))
        if r["Experiment"] in made
    }
    assert set(names) == set(SWEEP), table
    yield names
    dvc(repo, "exp", "remove", *sorted(made))


def test_two_experiments_compare_with_metrics_diff(
    repo: Path, threshold_sweep: dict[float, str]
) -> None:
    """The sweep's two runs; `dvc metrics diff` between them names what changed."""
    low_exp, high_exp = (threshold_sweep[t] for t in SWEEP)
    low = _applied_metrics(repo, low_exp)
    high = _applied_metrics(repo, high_exp)
    assert low["windows"]["confusion"] != high["windows"]["confusion"]
    diff = json.loads(dvc(repo, "metrics", "diff", low_exp, high_exp, "--json").stdout)
    changed = diff["metrics/evaluate.json"]
    for key in ("windows.confusion.tp", "windows.confusion.fp", "windows.confusion.fn"):
        old, new = low["windows"]["confusion"], high["windows"]["confusion"]
        name = key.rsplit(".", 1)[1]
        if old[name] != new[name]:
            assert changed[key] == {
                "old": old[name],
                "new": new[name],
                "diff": new[name] - old[name],
            }
    assert "windows.auroc" not in changed  # ranking metrics do not depend on the threshold
    params = dvc(repo, "params", "diff", low_exp, high_exp).stdout
    assert "evaluate.threshold" in params and "0.2" in params and "0.8" in params
    table = dvc(repo, "metrics", "diff", low_exp, high_exp, "--md").stdout
    assert "| metrics/evaluate.json" in table and "windows.confusion" in table


def test_compare_two_experiments_and_a_revision(
    repo: Path, threshold_sweep: dict[float, str]
) -> None:
    """`ttmbio compare` reads each side's scores file from an experiment or a git revision:
    a sweep run (the committed temperature scaling) against an isotonic one."""
    swept = threshold_sweep[SWEEP[0]]
    with _leaves_no_trace(repo):
        # target evaluate: calibrate (its param changed) and evaluate run, nothing else
        iso = ("-n", "cal-iso", "-S", "calibrate.method=isotonic")
        dvc(repo, "exp", "run", "evaluate", *iso)
        out = run(repo, "ttmbio", "compare", swept, "cal-iso").stdout
        assert f"{swept}:metrics/evaluate_scores.csv -> cal-iso:metrics/evaluate_scores.csv" in out
        rows = {line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")}
        assert {"auroc", "auprc", "balanced_accuracy", "ece"} <= rows
        head = run(repo, "ttmbio", "compare", "HEAD", "cal-iso", "--md").stdout
        auroc = next(line for line in head.splitlines() if line.startswith("| auroc |"))
        base = float(auroc.split("|")[2])
    committed = json.loads((repo / "metrics/evaluate.json").read_text())
    assert base == pytest.approx(committed["windows"]["auroc"], abs=1e-4)


def test_exp_run_with_lora_shows_in_exp_show(repo: Path) -> None:
    target = "finetune@pretrained-1.0-42"  # the run read below; the other seven cost minutes
    with _leaves_no_trace(repo):
        dvc(repo, "exp", "run", target, "-S", "finetune.lora.enabled=true")
        summary = json.loads(
            (repo / "models/finetune/pretrained-1.0-seed42/summary.json").read_text()
        )
        assert summary["lora"] is True and 0 < summary["lora_fraction"] < 0.1
        shown = dvc(repo, "exp", "show", "--json").stdout
        assert '"finetune.lora.enabled"' in shown or '"enabled": true' in shown


def test_queued_sweep_then_apply_the_best(repo: Path, threshold_sweep: dict[float, str]) -> None:
    """The sweep's runs compared in `dvc exp show`, and the best applied."""
    sort = ("--sort-by", "metrics/evaluate.json:windows.accuracy", "--sort-order", "desc")
    changed = dvc(repo, "exp", "show", "--only-changed", "--csv", *sort).stdout
    header = next(csv.reader(io.StringIO(changed)))
    assert "evaluate.threshold" in header and "windows.auroc" not in header, header
    table = dvc(repo, "exp", "show", "--csv", *sort).stdout
    swept = set(threshold_sweep.values())
    rows = [r for r in csv.DictReader(io.StringIO(table)) if r["Experiment"] in swept]
    assert {float(r["evaluate.threshold"]) for r in rows} == set(SWEEP), table
    # two evaluate files (BUT-PPG, hypotension) share metric names: DVC then prefixes columns
    column = next(
        k for k in rows[0] if k in ("windows.accuracy", "metrics/evaluate.json:windows.accuracy")
    )
    accuracies = [float(r[column]) for r in rows]
    assert accuracies == sorted(accuracies, reverse=True)
    best = rows[0]
    try:
        dvc(repo, "exp", "apply", best["Experiment"])
        applied = yaml.safe_load((repo / "params.yaml").read_text())
        assert applied["evaluate"]["threshold"] == float(best["evaluate.threshold"])
        metrics = json.loads((repo / "metrics/evaluate.json").read_text())
        assert metrics["windows"]["accuracy"] == pytest.approx(float(best[column]))
        assert "up to date" in dvc(repo, "status", "evaluate").stdout.lower()
    finally:
        _reset(repo)
