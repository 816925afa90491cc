"""Run stage commands as a user does and check what they see: the exit code, the one
``error:`` line or the ``warning:`` lines, and that refused commands left outputs untouched."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import vitaldb
import yaml
from typer.testing import CliRunner

from tests.fixtures.files import DTSTART
from tests.stages.repo import deep_update
from ttmbio_stages.cli import app

TRACKS = ("SNUADC/ECG_II", "SNUADC/PLETH", "SNUADC/ART")


@dataclass(frozen=True)
class Outcome:
    """What a user sees of one command: exit code, stdout, and stderr split into lines."""

    code: int
    stdout: str
    stderr: str
    crashed: BaseException | None

    @property
    def lines(self) -> list[str]:
        """Stderr lines without progress bars (tqdm redraws with carriage returns)."""
        return [
            part.strip()
            for line in self.stderr.splitlines()
            for part in line.split("\r")
            if part.strip() and "it/s]" not in part and "%|" not in part
        ]

    @property
    def errors(self) -> list[str]:
        return [line for line in self.lines if line.startswith("error:")]

    @property
    def warnings(self) -> list[str]:
        return [line for line in self.lines if line.startswith("warning:")]


def ttmbio(cwd: Path, *args: str) -> Outcome:
    """``ttmbio <args>`` run from ``cwd`` (stage defaults are relative paths, as under DVC)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        result = CliRunner().invoke(app, list(args))
    crashed = None if isinstance(result.exception, SystemExit | None) else result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr, crashed)


def assert_ok(outcome: Outcome) -> None:
    assert outcome.crashed is None, repr(outcome.crashed)
    assert outcome.code == 0, outcome.stderr[-2000:]
    assert not outcome.errors


def assert_refused(outcome: Outcome, *needles: str) -> str:
    """Exit 2 with one ``error:`` line (containing every needle) and no traceback."""
    assert outcome.crashed is None, f"traceback instead of one line: {outcome.crashed!r}"
    assert outcome.code == 2, outcome.stderr[-2000:]
    assert len(outcome.errors) == 1, outcome.lines
    assert "Traceback" not in outcome.stderr
    (line,) = outcome.errors
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


def warning_about(outcome: Outcome, *needles: str) -> str:
    """The one ``warning:`` line containing every needle."""
    hits = [w for w in outcome.warnings if all(n in w for n in needles)]
    assert len(hits) == 1, f"{needles} in {outcome.warnings}"
    return hits[0]


def snapshot(*paths: Path) -> dict[str, str]:
    """Content hash of every file under ``paths`` ("absent" for a missing path)."""
    seen: dict[str, str] = {}
    for root in paths:
        if not root.exists():
            seen[str(root)] = "absent"
            continue
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            seen[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return seen


def set_params(folder: Path, changes: dict[str, Any]) -> None:
    """Deep-update ``folder/params.yaml``."""
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(deep_update(yaml.safe_load(path.read_text()), changes)))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


# ------------------------------------------------------------------- broken recordings


def read_case(path: Path) -> dict[str, np.ndarray]:
    """The three standard wave tracks of a ``.vital`` case, at 500 Hz."""
    data = vitaldb.VitalFile(str(path), list(TRACKS)).to_numpy(list(TRACKS), 1 / 500)
    return {t: np.asarray(data[:, i], dtype=np.float32) for i, t in enumerate(TRACKS)}


def write_case(
    path: Path, tracks: dict[str, np.ndarray], seconds: float, rates: dict[str, float]
) -> None:
    """A ``.vital`` file with each wave track at its own rate (default 500 Hz)."""
    vf = vitaldb.VitalFile()
    vf.dtstart = DTSTART
    for name, values in tracks.items():
        srate = rates.get(name, 500.0)
        vf.add_track(name, [{"dt": DTSTART, "val": values.astype(np.float32)}], srate=srate)
    vf.dtend = DTSTART + seconds
    vf.to_vital(str(path))


def set_header_fs(hea: Path, fs: float) -> None:
    """Write another sampling rate into a WFDB header's record line."""
    lines = hea.read_text().splitlines()
    fields = lines[0].split()
    fields[2] = f"{fs:g}"
    lines[0] = " ".join(fields)
    hea.write_text("\n".join(lines) + "\n")
