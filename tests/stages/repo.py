"""A throwaway copy of this repository, for tests that run DVC end to end."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

# Small enough that synth + splits take seconds, big enough that splits have work to do.
TINY_PARAMS = {
    "synth": {
        "workers": 1,
        # at most one hypotension episode per case: every split gets forecast windows of
        # both labels (measured for this seed: train 4 / 147, val 20 / 53, test 6 / 56)
        "vitaldb": {
            "n_cases": 10,
            "n_subjects": 6,
            "duration_min": [4.0, 5.0],
            "hypotension_episodes": [0, 1],
        },
        "butppg": {"n_subjects": 10, "records_per_subject": 4, "good_fraction": 0.5},
    },
    "splits": {"ratios": {"train": 0.5, "val": 0.25, "test": 0.25}},
    # a 1-minute hypotension-forecast horizon: minutes-long cases still have both labels
    "windows": {
        "workers": 1,
        "shard_windows": 64,
        "chunk_windows": 16,
        "forecast_horizon_min": 1.0,
        "vitaldb": {"stride": 512},
    },
    "model": {"d_model": 16, "num_layers": 2},
    "pretrain": {"epochs": 2, "batch_size": 32, "warmup_epochs": 0.5, "decoder_hidden": 16},
    "finetune": {
        "head_epochs": 1,
        "unfreeze_epochs": 1,
        "batch_size": 16,
        "head": {"hidden_dims": [8]},
    },
    "forecast": {
        "data": {"n_patients": 6, "days": 1.0, "workers": 1},
        "model": {
            "context_length": 64,
            "forecast_length": 16,
            "patch_length": 16,
            "d_model": 16,
            "num_layers": 1,
            "epochs": 1,
            "batch_size": 32,
            "train_stride": 4,
        },
        "splits": {"ratios": {"train": 0.5, "val": 0.25, "test": 0.25}},
        "finetune_epochs": 1,
    },
}


def run(
    cwd: Path, *args: str, check: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run a command with this Python's scripts first on PATH and the copy's code importable."""
    env = {
        **os.environ,
        "PYTHONPATH": str(cwd),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "DVC_NO_ANALYTICS": "1",
    }
    # a bounded wait: a hung child (say, a stuck process group) fails the test, not CI
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(cwd, sys.executable, "-m", "dvc", *args, check=check)


def deep_update(base: dict, extra: dict) -> dict:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_update(base[key], value)
        else:
            base[key] = value
    return base


def copy_repo(dest: Path, params: dict | None = None) -> Path:
    """Copy the working tree as git sees it (tracked + untracked, not ignored), then commit.

    Built outputs (data/, models/, metrics/) are DVC's and are left behind, as in a fresh
    project; READMEs there stay (``metrics/cv/README.md`` keeps the ``cv`` stage's dep).
    """
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        built = rel.startswith(("data/", "models/", "metrics/")) and not rel.endswith("README.md")
        if src.is_file() and not built:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    # the CLI's import name points at this copy's stages/ (PYTHONPATH=copy in `run`), as
    # `ttmbio` points at its ttmbio/; the install maps it to the original checkout
    (dest / "ttmbio_stages").symlink_to("stages", target_is_directory=True)
    params_path = dest / "params.yaml"
    doc = deep_update(yaml.safe_load(params_path.read_text()), params or TINY_PARAMS)
    params_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    run(dest, "git", "init", "-q", "-b", "main")
    run(dest, "git", "add", "-A")
    run(dest, "git", "commit", "-q", "-m", "copy")
    return dest


# ------------------------------------------------------- the tiny DAG, built by two modules
# test_dvc_pipeline.py and test_dvc_experiments.py each build the whole DAG with these params,
# in their own copy (under xdist, on both workers at once): the first with `dvc repro`, the
# second with every stage's command run in one fresh Python process (`repro_in_process`). Two
# independent builds must give the same output hashes (design contract 6): the module whose
# build finishes second compares, so the check costs no third run of the DAG.
FOLDS = {"splits": {"folds": [0, 1]}, "evaluate": {"bootstrap": 100}}
BUILDERS = ("tests/stages/test_dvc_pipeline.py", "tests/stages/test_dvc_experiments.py")


def tiny_dag_params() -> dict:
    """The tiny params with cross-validation on (two folds)."""
    return deep_update(json.loads(json.dumps(TINY_PARAMS)), FOLDS)


def output_hashes(repo: Path) -> dict[str, dict[str, str]]:
    """stage -> {output path: md5} from dvc.lock."""
    stages = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {
        name: {out["path"]: out["md5"] for out in stage.get("outs", [])}
        for name, stage in stages.items()
    }


def _shared(factory: pytest.TempPathFactory) -> Path:
    """A folder all xdist workers of this session share (this session's own without xdist)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def record_build(factory: pytest.TempPathFactory, module: str, repo: Path) -> None:
    """Publish the output hashes of ``module``'s fresh build (written whole, then renamed)."""
    target = _shared(factory) / f"tiny-dag-{Path(module).stem}.json"
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(output_hashes(repo), sort_keys=True))
    tmp.replace(target)


def check_against_other_build(
    request: pytest.FixtureRequest, factory: pytest.TempPathFactory, module: str, repo: Path
) -> None:
    """Compare this build's output hashes with the other builder's, once both exist.

    If the other module is not in this session, run ``dvc repro -f`` here and compare with
    that instead. If its build has not finished yet, skip: its own test compares later,
    because it runs only after its build is published and this one already is.
    """
    (other,) = [m for m in BUILDERS if m != module]
    mine = json.loads((_shared(factory) / f"tiny-dag-{Path(module).stem}.json").read_text())
    if not any(item.nodeid.startswith(other) for item in request.session.items):
        dvc(repo, "repro", "-f")
        theirs, label = output_hashes(repo), "`dvc repro -f`"
        assert "up to date" in dvc(repo, "status").stdout.lower()
    else:
        published = _shared(factory) / f"tiny-dag-{Path(other).stem}.json"
        if not published.is_file():
            pytest.skip(f"{other} compares when its build finishes")
        theirs, label = json.loads(published.read_text()), f"the build of {other}"
    assert set(theirs) == set(mine)
    changed = sorted(stage for stage, outs in theirs.items() if outs != mine[stage])
    assert not changed, f"outputs differ from {label}: {changed}"


def repro_in_process(repo: Path) -> list[str]:
    """Build ``repo``'s whole pipeline in one fresh Python process, then ``dvc commit -f`` its
    output hashes into ``dvc.lock``; return the stages run (in order).

    The process (``tests/stages/one_process_build.py``, run with the copy's code first on the
    path, under ``run``'s time limit) takes the stages in ``dvc repro``'s order and runs each
    command DVC resolves from dvc.yaml through the console script's Typer app. What differs
    from ``dvc repro``: no shell and no DVC environment around each command, hashing once at
    the end, and one interpreter for all stages, which pays the torch/transformers/granite-
    tsfm imports (~6 s a process) and DVC's per-stage lock rewrite once instead of per stage.
    A stage that leaned on a fresh interpreter (torch's fixed startup seed, a global another
    stage left set) would give a differing hash here.
    """
    result = run(repo, sys.executable, "-m", "tests.stages.one_process_build")
    dvc(repo, "commit", "-f")
    return re.findall(r"^Running stage '([^']+)'$", result.stdout, flags=re.MULTILINE)
