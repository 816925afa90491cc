"""SIGKILL mid-stage: nothing half-written is left as an output, and the rerun completes.

Pretraining and fine-tuning are killed as real subprocesses after their first epoch's
checkpoint; the rerun resumes from it and must end with exactly the weights of a run that was
never interrupted (CPU). The uninterrupted reference run goes through the same CLI in this
process, which saves a torch + granite-tsfm import (~8 s) per test; the killed run and its
resumption are subprocesses, as under DVC. ``dvc repro`` killed inside a stage must leave the
stage out of ``dvc.lock`` and finish when run again (slow).
"""

from __future__ import annotations

import faulthandler
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.fixtures.pipeline import no_progress, tiny_params
from tests.stages.one_process_build import run_app
from tests.stages.repo import REPO, copy_repo, dvc
from ttmbio.params import Params
from ttmbio.splits.file import build_split_file
from ttmbio.synth.dataset import synthesize
from ttmbio.training.checkpoint import load_checkpoint
from ttmbio.windows.build import build_windows

pytestmark = pytest.mark.slow

EXTRA = {
    "synth": {"butppg": {"n_subjects": 10, "records_per_subject": 4, "good_fraction": 0.5}},
    "splits": {"ratios": {"train": 0.5, "val": 0.25, "test": 0.25}},
    "pretrain": {"epochs": 3, "checkpoint_every": 1},
    "finetune": {
        "init": "scratch",
        "head_epochs": 1,
        "unfreeze_epochs": 2,
        "batch_size": 8,
        "patience": 10,
        "head": {"hidden_dims": [8]},
    },
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Params]:
    tmp = tmp_path_factory.mktemp("interrupt")
    params = tiny_params(tmp, EXTRA)
    synthesize(params.synth, tmp / "raw")
    doc, _ = build_split_file(params)
    build_windows(params, doc, tmp / "windows", no_progress)
    return tmp, params


def stage_cmd(tmp: Path, stage: str, run: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ttmbio_stages",
        stage,
        "--windows",
        str(tmp / "windows"),
        "--out",
        str(tmp / run / "out"),
        "--work",
        str(tmp / run / "work"),
        "--metrics",
        str(tmp / run / "metrics"),
        "--plots",
        str(tmp / run / "plots"),
        "--params",
        str(tmp / "params.yaml"),
        *extra,
    ]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def kill_after_first_checkpoint(cmd: list[str], work: Path, timeout: float = 300) -> None:
    """Start ``cmd``; SIGKILL it as soon as a ``last.pt`` appears under ``work``."""
    child = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not list(work.glob("**/last.pt")):
        assert child.poll() is None, f"finished before a checkpoint: {child.stderr.read()}"
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()


def finish(cmd: list[str]) -> None:
    result = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def finish_here(cmd: list[str], timeout: float = 600) -> None:
    """Run ``cmd`` (``python -m ttmbio_stages ...``) to the end through the console script's
    Typer app in this process, on one thread as the subprocesses (``OMP_NUM_THREADS=1``).

    A hang past ``timeout`` ends this process with every thread's traceback (a test must not
    hang CI). The run leaves what a stage leaves in a process: imports, torch's reseeded global
    generator, dvclive's logger level; later tests here do not rely on those.
    """
    assert cmd[1:3] == ["-m", "ttmbio_stages"], cmd
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    faulthandler.dump_traceback_later(timeout, exit=True)
    try:
        code = run_app(cmd[3:])
    finally:
        faulthandler.cancel_dump_traceback_later()
        torch.set_num_threads(threads)
    if code == 130:  # Typer turns Ctrl-C into this exit code
        raise KeyboardInterrupt
    assert code == 0, f"{' '.join(cmd[3:])} exited with {code}"


def file_digests(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_same_weights(a: Path, b: Path, key: str) -> None:
    first, second = load_checkpoint(a), load_checkpoint(b)
    assert first[key].keys() == second[key].keys()
    for name, tensor in first[key].items():
        assert torch.equal(tensor, second[key][name]), name


@pytest.mark.parametrize(
    ("stage", "extra", "key"),
    [
        ("pretrain", (), "encoder"),
        ("finetune", ("--init", "scratch", "--name", "run"), "model"),
    ],
)
def test_killed_training_resumes_to_the_uninterrupted_weights(
    tiny: tuple[Path, Params], stage: str, extra: tuple[str, ...], key: str
) -> None:
    tmp = tiny[0]
    name = "run/" if stage == "finetune" else ""
    finish_here(stage_cmd(tmp, stage, f"{stage}-straight", *extra))
    killed = stage_cmd(tmp, stage, f"{stage}-killed", *extra)
    kill_after_first_checkpoint(killed, tmp / f"{stage}-killed" / "work")
    out = tmp / f"{stage}-killed" / "out" / name
    assert not (out / "best.pt").exists()  # nothing that looks finished
    finish(killed)
    straight = tmp / f"{stage}-straight" / "out" / name
    assert_same_weights(straight / "best.pt", out / "best.pt", key)
    assert_same_weights(straight / "last.pt", out / "last.pt", key)
    assert not list((tmp / f"{stage}-killed").glob("**/.*.tmp-*"))  # no temp left behind
    assert file_digests(out) == file_digests(straight)  # the very same bytes: DVC sees no change


def test_dvc_repro_killed_inside_a_stage_then_completes(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    dvc(repo, "repro", "splits")
    lock = (repo / "dvc.lock").read_text()
    child = subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro", "windows"],
        cwd=repo,
        env={**env(), "PYTHONPATH": str(repo)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # DVC and the stage it runs: one process group to kill
    )
    deadline = time.monotonic() + 300
    while not list((repo / "data").glob(".windows.tmp-*/vitaldb")):
        assert child.poll() is None and time.monotonic() < deadline, "windows never started"
        time.sleep(0.02)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    assert not (repo / "data/windows").exists()
    assert (repo / "dvc.lock").read_text() == lock  # the killed stage recorded nothing
    assert "deleted:" in dvc(repo, "status", "windows").stdout  # so DVC will run it again
    dvc(repo, "repro", "windows")
    assert (repo / "data/windows/vitaldb/train.zarr").is_dir()
    assert not list((repo / "data").glob(".windows.*"))  # the killed run's temp is gone
    assert "up to date" in dvc(repo, "status", "windows").stdout.lower()
