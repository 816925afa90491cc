"""What every data source hands the pipeline: an index of cases, and recordings on demand.

A source first *indexes* its cases cheaply (ids, subjects, available tracks, case-level
labels), which is all the ``splits`` stage needs; later stages *load* one recording at a time.
Per-case problems never raise out of an index: they become :class:`Skipped` rows that the
stage reports in its metrics, so one broken file cannot lose the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd


def plain_attrs(values: Mapping[str, Any]) -> dict[str, Any]:
    """Table cells as JSON-ready Python values (numpy scalars unwrapped, NaN as None)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            out[str(key)] = None
        else:
            out[str(key)] = value.item() if hasattr(value, "item") else value
    return out


def resolve_channels(
    tracks: Sequence[str], aliases: Mapping[str, Sequence[str]], channels: Sequence[str]
) -> tuple[dict[str, str], list[str]]:
    """Map each wanted channel to the first of its track names present (a file's tracks or a
    record's signals); also return the channels missing, unmapped ones included."""
    present = set(tracks)
    found: dict[str, str] = {}
    missing: list[str] = []
    for channel in channels:
        track = next((t for t in aliases.get(channel, ()) if t in present), None)
        if track is None:
            missing.append(channel)
        else:
            found[channel] = track
    return found, missing


@dataclass(frozen=True)
class CaseEntry:
    """One case (VitalDB) or record (BUT-PPG), as listed by a source index."""

    dataset: str
    case_id: str
    subject_id: str
    file: str
    tracks: tuple[str, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    """A case the source could not use; ``reason`` is the one line shown (it names the file)."""

    dataset: str
    case_id: str
    file: str
    reason: str


@dataclass
class SourceIndex:
    """Usable cases plus everything skipped (and non-fatal notes such as repaired headers)."""

    dataset: str
    cases: list[CaseEntry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Samples(Protocol):
    """A channel's float32 samples: an array, or a reader that gives ranges of one on demand
    (a long recording read from a temporary file) and the whole through ``np.asarray``."""

    def __len__(self) -> int: ...

    def __getitem__(self, key: slice) -> np.ndarray: ...

    def __array__(self, dtype: Any = None, /, *, copy: Any = None) -> np.ndarray: ...


def finite_range(x: Samples, chunk: int = 1 << 20) -> tuple[float, float]:
    """Smallest and largest finite sample (inf, -inf when none), a chunk at a time so a
    multi-hour channel is never copied whole."""
    lo, hi = np.inf, -np.inf
    for i in range(0, len(x), chunk):
        part = np.asarray(x[i : i + chunk])
        part = part[np.isfinite(part)]
        if part.size:
            lo, hi = min(lo, float(part.min())), max(hi, float(part.max()))
    return lo, hi


@dataclass(frozen=True)
class Signal:
    """One channel: float32 samples (NaN where missing) at ``fs`` Hz."""

    data: Samples
    fs: float

    @property
    def duration_s(self) -> float:
        return len(self.data) / self.fs


@dataclass(frozen=True)
class Recording:
    """The named channels of one case, each at its native sampling rate."""

    dataset: str
    case_id: str
    subject_id: str
    signals: dict[str, Signal]
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PredictInput:
    """One recording ``ttmbio predict`` was pointed at, and the dataset whose reader takes it."""

    source: str  # the dataset name, e.g. "vitaldb"
    path: Path  # the file, or the record's folder
    recording: str  # the case or record id
