"""A throwaway copy of this repository, for tests that run DVC end to end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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
    params_path = dest / "params.yaml"
    doc = deep_update(yaml.safe_load(params_path.read_text()), params or TINY_PARAMS)
    params_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    run(dest, "git", "init", "-q", "-b", "main")
    run(dest, "git", "add", "-A")
    run(dest, "git", "commit", "-q", "-m", "copy")
    return dest
