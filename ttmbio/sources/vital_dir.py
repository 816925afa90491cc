"""A folder of VitalDB ``.vital`` files, indexed and read by :mod:`ttmbio.sources.vital_stream`
(one streaming pass each, with ``vitaldb``'s values).

This is the path every VitalDB-format case takes: the synthetic default, a user's own folder,
and cases downloaded from the open dataset API (cached as ``<caseid>.vital``).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ttmbio.errors import CaseError, SourceError
from ttmbio.sources.base import (
    CaseEntry,
    Recording,
    Signal,
    Skipped,
    SourceIndex,
    finite_range,
    plain_attrs,
    resolve_channels,
)
from ttmbio.sources.vital_stream import COPY_BYTES, VitalStream, truncated, unreadable

DATASET = "vitaldb"


def case_sort_key(path: Path) -> tuple[int, int | str]:
    """Numeric case ids in numeric order (2 before 10), other names after, by name."""
    stem = path.stem
    return (0, int(stem)) if stem.isdigit() else (1, stem)


def check_vital_file(path: Path) -> None:
    """Raise :class:`CaseError` unless ``path`` is a complete gzip stream of a vital file.

    ``vitaldb.VitalFile`` silently returns partial data for a truncated file, so a download
    is decompressed once to reach the end-of-stream marker before it is kept (the index and
    the sample read, :class:`~ttmbio.sources.vital_stream.VitalStream`, check the same as
    they go).
    """
    try:
        with gzip.open(path, "rb") as f:
            if f.read(4) != b"VITA":
                raise CaseError(f"{path}: not a .vital file (no VITA signature); remove it")
            while f.read(COPY_BYTES):
                pass
    except CaseError:
        raise
    except EOFError:
        raise truncated(path) from None
    except (gzip.BadGzipFile, zlib.error, OSError) as err:
        raise unreadable(path, err) from None


def read_track_names(path: Path) -> tuple[tuple[str, ...], float]:
    """Track names and duration (s) of a complete ``.vital`` file, without keeping samples.

    One decompression pass, which also proves the gzip stream whole (a truncated or foreign
    file is a :class:`CaseError` naming it); the duration is the one ``vitaldb``'s
    ``header_only`` read gives (record start times and the header's range)."""
    stream = VitalStream(path, None, header_only=True)
    start, end = stream.span(stream.track_names())
    return tuple(sorted(stream.track_names())), float(end - start)


def read_clinical_csv(path: Path | None) -> pd.DataFrame | None:
    """The VitalDB ``cases`` table (``caseid``, ``subjectid``, ...) or None when not given."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise SourceError(
            f"{path}: clinical table not found; set data.vitaldb.clinical_csv "
            "to the cases CSV or to null"
        )
    table = pd.read_csv(path)
    missing = {"caseid", "subjectid"} - set(table.columns)
    if missing:
        raise SourceError(
            f"{path}: clinical table lacks columns {sorted(missing)}; it needs "
            "VitalDB's 'cases' columns caseid and subjectid"
        )
    table["caseid"] = table["caseid"].astype(str)
    return table.set_index("caseid", drop=False)


def _clinical_attrs(table: pd.DataFrame | None, case_id: str) -> dict[str, object]:
    if table is None or case_id not in table.index:
        return {}
    return plain_attrs(table.loc[case_id])


def index_entries(
    files: Sequence[tuple[str, str, tuple[str, ...]]],
    aliases: Mapping[str, Sequence[str]],
    required: Sequence[str],
    clinical: pd.DataFrame | None,
) -> SourceIndex:
    """Turn ``(case_id, file, tracks)`` rows into an index: cases lacking a channel are skipped.

    Shared by the folder and the API source so both select cases by the same rule.
    """
    index = SourceIndex(DATASET)
    for case_id, file, tracks in files:
        _, missing = resolve_channels(tracks, aliases, required)
        if missing:
            looked = "; ".join(f"{c}: {', '.join(aliases[c])}" for c in missing)
            index.skipped.append(
                Skipped(DATASET, case_id, file, f"{file}: missing required track(s) ({looked})")
            )
            continue
        attrs = _clinical_attrs(clinical, case_id)
        subject = attrs.get("subjectid")
        subject_id = str(subject) if subject is not None else f"case-{case_id}"
        index.cases.append(CaseEntry(DATASET, case_id, subject_id, file, tracks, attrs))
    return index


def scan_vital_dir(
    folder: Path,
    aliases: Mapping[str, Sequence[str]],
    required: Sequence[str],
    clinical_csv: Path | None,
) -> SourceIndex:
    """Index every ``*.vital`` in ``folder``; unreadable files are skipped and reported."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(
            f"{folder}: folder of .vital files not found; run `ttmbio synth` or "
            "set data.vitaldb.path"
        )
    paths = sorted(folder.glob("*.vital"), key=case_sort_key)
    if not paths:
        raise SourceError(
            f"{folder}: no .vital files; run `ttmbio synth` or set "
            "data.vitaldb.path to a folder of .vital files"
        )
    clinical = read_clinical_csv(clinical_csv)
    rows: list[tuple[str, str, tuple[str, ...]]] = []
    bad: list[Skipped] = []
    for path in paths:
        try:
            tracks, _ = read_track_names(path)
        except CaseError as err:
            bad.append(Skipped(DATASET, path.stem, str(path), str(err)))
            continue
        rows.append((path.stem, str(path), tracks))
    index = index_entries(rows, aliases, required, clinical)
    index.skipped[:0] = bad
    return index


def _wave_rate(stream: VitalStream, path: Path, channel: str, track: str) -> float:
    """The track's own sampling rate, as the file stores it; numeric tracks have none."""
    info = stream.tracks[track]
    if info.kind != 1 or info.srate <= 0:
        raise CaseError(
            f"{path}: track {track} ({channel}) is a numeric track, not a waveform; "
            f"map {channel} to a wave track in data.vitaldb.tracks"
        )
    return float(info.srate)


def open_vital(path: Path, track_names: Sequence[str]) -> VitalStream:
    """Read the tracks named (exact names) of a complete ``.vital`` file in one streaming pass.

    The file may lack some of them; callers pick theirs with
    :func:`ttmbio.sources.base.resolve_channels` over ``track_names()`` and pass the result to
    :func:`recording_from_vital`. A truncated or corrupt file is a :class:`CaseError`.
    """
    return VitalStream(path, dict.fromkeys(track_names))


def recording_from_vital(
    stream: VitalStream,
    path: Path,
    case_id: str,
    subject_id: str,
    channel_tracks: Mapping[str, str],
) -> Recording:
    """The named channels of a read file, each at the sampling rate its track was recorded at.

    Each channel's samples are those ``vitaldb`` gives for the chosen tracks alone
    (``get_track_samples(track, 1 / srate)``), read a range at a time from the stream's
    temporary file (:class:`~ttmbio.sources.vital_stream.TrackSamples`), so a long case is not
    held in memory. Reading at one common interval would make vitaldb repeat the samples of a
    slower track (a 100 Hz PPG next to 500 Hz ECG) into a staircase; at its own rate, each
    track is resampled to ``windows.fs`` with anti-aliasing later. Raises :class:`CaseError`
    naming the file for a missing, numeric or all-NaN track.
    """
    absent = [t for t in channel_tracks.values() if t not in stream.tracks]
    if absent:
        raise CaseError(f"{path}: missing track(s) {absent}; check data.vitaldb.tracks aliases")
    span = stream.span(list(dict.fromkeys(channel_tracks.values())))
    signals: dict[str, Signal] = {}
    for channel, track in channel_tracks.items():
        fs = _wave_rate(stream, path, channel, track)
        samples = stream.samples(track, span)
        if not np.isfinite(finite_range(samples)[0]):
            raise CaseError(f"{path}: track {track} ({channel}) has no finite samples")
        signals[channel] = Signal(samples, fs)
    return Recording(DATASET, case_id, subject_id, signals)


def load_vital_recording(
    path: Path, case_id: str, subject_id: str, channel_tracks: Mapping[str, str]
) -> Recording:
    """Read the named channels of a ``.vital`` file (see :func:`recording_from_vital`).

    Raises :class:`CaseError` naming the file for a corrupt or truncated file too.
    """
    stream = open_vital(path, list(channel_tracks.values()))
    return recording_from_vital(stream, path, case_id, subject_id, channel_tracks)
