"""Which cross-validation fold each window belongs to, from the split file.

``splits`` assigns subject-disjoint folds over the train and val cases (``splits.folds``); a
fold's windows are those of its cases, wherever the windows stage stored them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ttmbio.errors import ConfigError, SourceError
from ttmbio.splits.schema import SplitFile


def case_folds(split_doc: SplitFile, dataset: str) -> dict[str, int]:
    """case id -> fold for the dataset's train+val cases; refused when folds are off."""
    rows = split_doc.datasets[dataset].cases
    folds = {r.case_id: r.fold for r in rows if r.fold is not None}
    if not folds:
        raise ConfigError(
            f"the split file assigns no folds to {dataset}; set splits.folds (e.g. "
            "[0,1,2,3,4]) and run `dvc repro splits`"
        )
    return folds


def window_folds(case_ids: np.ndarray, folds: Mapping[str, int], store: Path) -> np.ndarray:
    """Fold of each window; a window whose case has no fold means stale windows: an error."""
    ids = [str(c) for c in case_ids]
    unknown = sorted({c for c in ids if c not in folds})
    if unknown:
        raise SourceError(
            f"{store}: windows of case(s) {unknown[:5]} have no fold in the split file; the "
            "windows are older than data/splits.json: run `dvc repro windows`"
        )
    return np.array([folds[c] for c in ids], dtype=np.int64)
