"""Bad params given through ``dvc exp run -S``: refused by the first stage's params check.

``synth`` is the first stage of the DAG and validates the whole ``params.yaml`` like every
stage, so the refusal comes before anything runs: no data, no metrics, no lock change. Each
``dvc exp run`` takes about 3 s, so these are not marked slow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stages.repo import copy_repo, dvc, run


@pytest.fixture(scope="module")
def copied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_repo(tmp_path_factory.mktemp("dvc-params"))


@pytest.fixture
def repo(copied: Path) -> Iterator[Path]:
    yield copied
    run(copied, "git", "checkout", "--", "params.yaml")  # `exp run -S` leaves its value there


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "pretrain.mask_ratio=1.5",
            "error: params.yaml: pretrain.mask_ratio = 1.5: Input should be less than 1",
        ),
        (  # `+` adds a key DVC does not know; without it DVC itself refuses the typo
            "+pretrain.mask_ration=0.5",
            "error: params.yaml: unknown param 'pretrain.mask_ration'; remove it or check "
            "its spelling",
        ),
    ],
    ids=["out-of-range", "unknown-key"],
)
def test_dvc_exp_run_with_a_bad_param_fails_before_any_output(
    repo: Path, setting: str, message: str
) -> None:
    lock = (repo / "dvc.lock").read_bytes()
    result = dvc(repo, "exp", "run", "-S", setting, "synth", check=False)
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert ours == [message], result.stderr
    assert "Traceback" not in result.stderr
    assert "failed to reproduce 'synth'" in result.stderr
    assert not (repo / "data/raw").exists() and not (repo / "metrics/synth.json").exists()
    assert (repo / "dvc.lock").read_bytes() == lock
    changed = run(repo, "git", "status", "--porcelain", "--untracked-files=all").stdout
    assert changed.splitlines() == [" M params.yaml"]  # the -S value, as DVC leaves it


def test_dvc_refuses_a_typo_in_a_param_name_itself(repo: Path) -> None:
    result = dvc(repo, "exp", "run", "-S", "pretrain.mask_ration=0.5", "synth", check=False)
    assert result.returncode != 0
    assert "Could not override 'pretrain.mask_ration'" in result.stderr
    assert not (repo / "data/raw").exists()
