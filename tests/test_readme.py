"""The README's quick start is what CI runs."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def quick_start_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", text, re.S)
    assert block, "README has no quick start block"
    return [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#")]


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_second() -> None:
    install_and_run, install_and_test = quick_start_commands()
    assert install_and_run.endswith("dvc repro")
    ci = [
        ln
        for ln in (REPO / ".ci/run").read_text().splitlines()
        if ln.strip() and not ln.startswith(("#", "set ", "cd "))
    ]
    assert ci == [install_and_test]
