"""Wall time of ``dvc repro`` when nothing changed: what a user waits for before real work."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ttmbio.errors import SourceError


def _dvc(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True, timeout=600
    )


def ensure_up_to_date(repo: Path) -> None:
    """Refuse a pipeline with work to do: its repro would run stages, not measure the no-op."""
    status = _dvc(repo, "status", "--json")
    if status.returncode != 0 or json.loads(status.stdout or "{}"):
        raise SourceError(
            f"{Path(repo).resolve()}: the pipeline is not up to date; run `dvc repro` once, "
            "then benchmark"
        )


def noop_repro(repo: Path, repeats: int) -> dict[str, Any]:
    """Median seconds of ``dvc repro`` in an up-to-date ``repo``."""
    ensure_up_to_date(repo)
    walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = _dvc(repo, "repro")
        walls.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SourceError(f"{repo}: dvc repro failed: {result.stderr.strip()[-300:]}")
    return {"seconds": statistics.median(walls), "repeats": repeats}
