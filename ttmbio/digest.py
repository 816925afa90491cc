"""SHA-256 of a file: what ties a calibrator to the weights it was fitted on, and an exported
folder's files to its config."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
