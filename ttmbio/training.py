"""What the training loops share: the logger protocol, work folders keyed by a fingerprint."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Protocol


class MetricLogger(Protocol):
    """What a loop needs of a logger (``dvclive.Live`` fits)."""

    def log_metric(self, name: str, val: float) -> None: ...

    def next_step(self) -> None: ...


def log_row(logger: MetricLogger | None, row: dict[str, float]) -> None:
    """One epoch's values as one logger step (``epoch`` itself is the step)."""
    if logger is None:
        return
    for key, value in row.items():
        if key != "epoch":
            logger.log_metric(key, float(value))
    logger.next_step()


def fingerprint_of(parts: dict[str, Any]) -> str:
    """A short hash of everything a checkpoint must share with a run to be resumed by it."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def prepare_work_dir(root: Path, fingerprint: str) -> None:
    """Create ``root/<fingerprint>``; checkpoints of runs with other params are removed."""
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.iterdir():
        if stale.name != fingerprint and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    (root / fingerprint).mkdir(exist_ok=True)
