"""Outputs are written whole or not at all, and a killed writer's leftovers are cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ttmbio.atomic import atomic_dir, atomic_file, atomic_write_json, remove_stale
from ttmbio.training.checkpoint import save_checkpoint

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ttmbio.atomic import atomic_dir
    with atomic_dir(Path(sys.argv[1])) as tmp:
        (tmp / "part.txt").write_text("half")
        print("writing", flush=True)
        time.sleep(60)
    """
)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_failed_block_leaves_the_old_output_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("new")
        raise RuntimeError("killed mid-way")
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_sigkill_mid_write_keeps_the_old_output_and_the_next_run_cleans_up(
    tmp_path: Path,
) -> None:
    target = tmp_path / "out"
    atomic_write_json(target / "x.json", {"v": 1})
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "writing"
    child.send_signal(signal.SIGKILL)
    child.wait()
    leftover = tmp_path / f".out.tmp-{child.pid}"
    assert leftover.is_dir() and (target / "x.json").is_file()  # SIGKILL skips all cleanup
    with atomic_dir(target) as tmp:
        (tmp / "y.json").write_text("{}")
    assert not leftover.exists() and sorted(p.name for p in target.iterdir()) == ["y.json"]


def test_only_dead_writers_temps_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "best.pt"
    dead = tmp_path / f".best.pt.tmp-{dead_pid()}"
    live = tmp_path / f".best.pt.tmp-{os.getpid()}"
    other = tmp_path / ".best.pt.notes-1"
    for path in (dead, live, other):
        path.write_text("x")
    assert remove_stale(target) == [dead]
    assert live.exists() and other.exists()


def test_checkpoint_save_removes_a_killed_saves_temp_file(tmp_path: Path) -> None:
    dead = tmp_path / f".last.pt.tmp-{dead_pid()}"
    dead.write_bytes(b"truncated torch zip")
    save_checkpoint(tmp_path / "last.pt", {"epoch": 1})
    assert not dead.exists() and (tmp_path / "last.pt").is_file()


def test_atomic_file_replaces_only_when_the_block_succeeds(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "case.vital"
    with atomic_file(target) as tmp:
        tmp.write_bytes(b"whole")
        assert not target.exists()
    assert target.read_bytes() == b"whole"
    with pytest.raises(ValueError, match="corrupt"), atomic_file(target) as tmp:
        tmp.write_bytes(b"half")
        raise ValueError("corrupt download")
    assert target.read_bytes() == b"whole"
    assert sorted(p.name for p in target.parent.iterdir()) == ["case.vital"]
