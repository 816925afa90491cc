"""The split file's schema (:class:`SplitFile`) and its reader, apart from the code that
builds it, so the stages that only read it import no source indexers.

The schema is versioned by the file's ``format`` tag: a file of another format, or one that
does not match the schema, is refused with one line that names the file and what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ttmbio.versioned import read_versioned

FORMAT = "ttmbio.splits/1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaseRow(_Strict):
    """One case (VitalDB) or record (BUT-PPG): its split, its fold (None outside train+val or
    with folds off) and the attributes the windows stage labels its windows with."""

    case_id: str
    subject_id: str
    file: str
    split: Literal["train", "val", "test", "unused"]
    fold: int | None = None
    attrs: dict[str, Any] = {}


class SkippedCase(_Strict):
    """A case its source could not use, with the one-line reason (it names the file)."""

    dataset: str
    case_id: str
    file: str
    reason: str


class DatasetSplits(_Strict):
    """One dataset's part of the split file."""

    source: dict[str, Any]  # the data.<dataset> params it was indexed with
    cases: list[CaseRow]
    warnings: list[str] = []
    skipped: list[SkippedCase] = []
    notes: list[str] = []

    def in_split(self, split: str) -> list[CaseRow]:
        """Rows assigned to ``split``, in file order."""
        return [row for row in self.cases if row.split == split]


class SplitFile(_Strict):
    """``data/splits.json``; ``format`` names the schema version."""

    format: Literal["ttmbio.splits/1"] = FORMAT
    ttmbio_version: str
    params: dict[str, Any]  # the splits params used
    datasets: dict[str, DatasetSplits]


def read_split_file(path: Path) -> SplitFile:
    """Load a split file written by :func:`ttmbio.splits.file.write_split_file`; a missing
    file, another format version or a file that does not match :class:`SplitFile` is a
    one-line error (:func:`ttmbio.versioned.read_versioned`)."""
    return read_versioned(
        path,
        SplitFile,
        FORMAT,
        "split file",
        "ttmbio splits",
        missing="split file not found; run `ttmbio splits` (or dvc repro)",
    )
