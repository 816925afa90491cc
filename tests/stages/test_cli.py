"""The ``ttmbio`` commands as a user runs them (the console script, in a scratch folder)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.stages.repo import REPO, TINY_PARAMS, deep_update, run
from ttmbio_stages.cli import app

runner = CliRunner()


@pytest.mark.parametrize("command", [[], ["synth"], ["splits"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    doc = deep_update(yaml.safe_load((REPO / "params.yaml").read_text()), TINY_PARAMS)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def test_bad_ratios_exit_non_zero_with_one_line_naming_the_param(workdir: Path) -> None:
    doc = yaml.safe_load((workdir / "params.yaml").read_text())
    doc["splits"]["ratios"] = {"train": 0.8, "val": 0.15, "test": 0.15}
    (workdir / "params.yaml").write_text(yaml.safe_dump(doc))
    result = run(workdir, shutil.which("ttmbio") or "ttmbio", "splits", check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "splits.ratios must sum to 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (workdir / "data").exists()


def test_synth_then_splits_in_a_scratch_folder(workdir: Path) -> None:
    synth = run(workdir, sys.executable, "-m", "ttmbio_stages", "synth", check=False)
    assert synth.returncode == 0, synth.stderr
    assert "synth: 10 VitalDB cases" in synth.stdout
    (workdir / "data/raw/vitaldb/3.vital").write_bytes(b"\x1f\x8b broken")
    splits = run(workdir, sys.executable, "-m", "ttmbio_stages", "splits", check=False)
    assert splits.returncode == 0, splits.stderr
    assert "is empty" not in splits.stderr
    assert "3.vital" in splits.stderr and "truncated .vital file" in splits.stderr
    metrics = json.loads((workdir / "metrics/splits.json").read_text())
    assert metrics["vitaldb"]["skipped"] == 1
    assert sum(metrics["vitaldb"][s]["cases"] for s in ("train", "val", "test")) == 9
    assert json.loads((workdir / "metrics/synth.json").read_text())["butppg"]["records"] == 40


def test_empty_source_folder_is_one_line_and_writes_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "data/raw/vitaldb").mkdir(parents=True)
    monkeypatch.chdir(workdir)
    result = runner.invoke(app, ["splits"])
    assert result.exit_code == 2
    assert "no .vital files" in result.output
    assert not (workdir / "data/splits.json").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["finetune", "--task", "bogus"], "--task bogus: task='bogus' is not one of"),
        (["finetune", "--label-fraction", "2"], "--label-fraction 2.0: Input should be"),
        (["label-efficiency", "--task", "nope"], "--task nope: task='nope' is not one of"),
    ],
)
def test_bad_task_options_are_one_line_before_any_work(
    workdir: Path, args: list[str], expected: str
) -> None:
    result = run(workdir, sys.executable, "-m", "ttmbio_stages", *args, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert not (workdir / "models").exists() and not (workdir / "metrics").exists()


def test_the_console_script_leaves_its_imports_out_of_the_exit_collections(
    tmp_path: Path,
) -> None:
    """`main` collects young objects less often and freezes all objects once the exit handlers
    registered after it started (a command's) have run: the exit's collections skip them."""
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen for a handler from before main:',"
        " gc.get_freeze_count() > 0))\n"
        "from ttmbio_stages import cli\n"
        "def command():\n"
        "    print('threshold:', gc.get_threshold()[0])\n"
        "    atexit.register(lambda: print('frozen for the command\\'s handler:',"
        " gc.get_freeze_count() > 0))\n"
        "cli.app = command\n"
        "cli.main()\n"
    )
    lines = run(tmp_path, sys.executable, "-c", code).stdout.splitlines()
    assert lines == [
        "threshold: 10000",
        "frozen for the command's handler: False",
        "frozen for a handler from before main: True",
    ]
