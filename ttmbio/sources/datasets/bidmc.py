"""BIDMC-style WFDB records: a folder of single-segment PhysioNet records, one per patient.

The BIDMC PPG and Respiration Dataset (Pimentel et al. 2017, doi:10.13026/C2208R) holds 53
8-minute ICU recordings at 125 Hz, ``bidmcNN.hea`` + ``.dat`` with the signals ``RESP, PLETH,
V, AVR, II`` (PhysioNet writes them with a trailing comma) and ``<age>: 88 <sex>: F
<location>: micu`` in the header comments. Any folder of WFDB records laid out that way reads
the same: a record is indexed when its header carries a track of every
``data.bidmc.required_channels`` entry; records that carry none of those channels' tracks (the
``bidmcNNn`` numerics) are not recordings of this dataset and are left out silently, those that
carry only some are skipped and reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import wfdb

from ttmbio.errors import CaseError, SourceError
from ttmbio.params import BidmcData, Params
from ttmbio.sources.base import (
    CaseEntry,
    PredictInput,
    Recording,
    Signal,
    Skipped,
    SourceIndex,
    resolve_channels,
)
from ttmbio.sources.registry import DatasetSource, TrackMaps
from ttmbio.splits.schema import CaseRow

DATASET = "bidmc"
_COMMENT_FIELD = re.compile(r"<([^>]+)>:\s*([^<]*)")


def track_name(raw: str) -> str:
    """A signal name as written in the header, without PhysioNet's trailing comma."""
    return raw.strip().rstrip(",").strip()


def comment_attrs(comments: Sequence[str]) -> dict[str, object]:
    """``<age>: 88 <sex>: F`` header comments as {"age": 88, "sex": "F"} (numbers as numbers,
    ``NaN``, ``inf`` or an empty value as None)."""
    attrs: dict[str, object] = {}
    for line in comments:
        for key, raw in _COMMENT_FIELD.findall(line):
            value = raw.strip()
            try:
                number = float(value)
            except ValueError:
                attrs[key.strip()] = value or None
                continue
            attrs[key.strip()] = (
                None
                if not np.isfinite(number)
                else (int(number) if number.is_integer() else number)
            )
    return attrs


def read_header(hea: Path) -> wfdb.Record:
    """The record's header; CaseError naming the file when wfdb cannot parse it."""
    try:
        header = wfdb.rdheader(str(hea.with_suffix("")))
    except Exception as err:  # wfdb raises bare ValueError/IndexError on malformed headers
        raise CaseError(f"{hea}: not a readable WFDB header ({err})") from None
    if getattr(header, "seg_name", None):
        raise CaseError(f"{hea}: multi-segment record; convert it to a single segment first")
    if not header.fs or not header.sig_len:
        raise CaseError(f"{hea}: header gives no sampling rate or no samples")
    return header


def channel_columns(
    names: Sequence[str], tracks: Mapping[str, Sequence[str]], channels: Sequence[str]
) -> tuple[dict[str, int], list[str]]:
    """Column of each channel (its first mapped track present) and the channels with none."""
    column: dict[str, int] = {}
    for i, name in enumerate(names):
        column.setdefault(track_name(name), i)  # a repeated name: the first column
    found, missing = resolve_channels(list(column), tracks, channels)
    return {channel: column[track] for channel, track in found.items()}, missing


def load_wfdb_record(
    hea: Path, case_id: str, subject_id: str, columns: Mapping[str, int]
) -> Recording:
    """Read the given columns of one record, in physical units, at the record's rate."""
    try:
        record = wfdb.rdrecord(str(hea.with_suffix("")), channels=sorted(set(columns.values())))
    except Exception as err:
        raise CaseError(f"{hea}: unreadable WFDB record ({err})") from None
    order = sorted(set(columns.values()))
    data = np.asarray(record.p_signal, dtype=np.float32)
    signals: dict[str, Signal] = {}
    for channel, column in columns.items():
        values = np.ascontiguousarray(data[:, order.index(column)])
        if not np.isfinite(values).any():
            raise CaseError(f"{hea}: signal {channel} has no finite samples")
        signals[channel] = Signal(values, float(record.fs))
    return Recording(DATASET, case_id, subject_id, signals)


def scan_wfdb_dir(cfg: BidmcData) -> SourceIndex:
    """Index every waveform record under ``cfg.path``; bad headers are skipped and reported."""
    folder = Path(cfg.path)
    if not folder.is_dir():
        raise SourceError(
            f"{folder}: BIDMC folder not found; download it (physionet.org/content/bidmc) "
            "and set data.bidmc.path"
        )
    mapped = {t for c in cfg.required_channels for t in cfg.tracks[c]}
    index = SourceIndex(DATASET)
    first: dict[str, Path] = {}  # case id -> the file that has it (ids are file names)
    for hea in sorted(folder.rglob("*.hea")):
        case_id = hea.stem
        if case_id in first:
            reason = f"{hea}: same record name as {first[case_id]}; keep one copy under {folder}"
            index.skipped.append(Skipped(DATASET, case_id, str(hea), reason))
            continue
        try:
            header = read_header(hea)
        except CaseError as err:
            index.skipped.append(Skipped(DATASET, case_id, str(hea), str(err)))
            continue
        names = [track_name(n) for n in header.sig_name]
        if not mapped & set(names):
            continue  # a numerics or other record: not a recording of this dataset
        _, missing = channel_columns(names, cfg.tracks, cfg.required_channels)
        if missing:
            looked = "; ".join(f"{c}: {', '.join(cfg.tracks[c])}" for c in missing)
            reason = f"{hea}: missing required signal(s) ({looked}); check data.bidmc.tracks"
            index.skipped.append(Skipped(DATASET, case_id, str(hea), reason))
            continue
        first[case_id] = hea
        attrs = comment_attrs(header.comments or [])
        index.cases.append(CaseEntry(DATASET, case_id, case_id, str(hea), tuple(names), attrs))
    if not index.cases and not index.skipped:
        raise SourceError(f"{folder}: no WFDB records with {sorted(mapped)}; set data.bidmc.path")
    return index


class BidmcSource(DatasetSource):
    """BIDMC-style records; ``ttmbio predict`` takes one by its ``.hea`` file."""

    name = DATASET
    accepts = "a WFDB record with PLETH/II signals (<name>.hea, as BIDMC's)"

    def index(self, params: Params) -> SourceIndex:
        return scan_wfdb_dir(params.data.bidmc)

    def load(self, row: CaseRow, channels: Sequence[str], params: Params) -> Recording:
        hea = Path(row.file)
        columns, missing = channel_columns(
            read_header(hea).sig_name, params.data.bidmc.tracks, channels
        )
        if missing:
            raise CaseError(f"{hea}: missing signal(s) for {missing}; check data.bidmc.tracks")
        return load_wfdb_record(hea, row.case_id, row.subject_id, columns)

    def _columns(self, hea: Path, tracks: dict[str, list[str]]) -> dict[str, int]:
        """Columns of the waveforms a model reads (a required channel's signal, by the
        model's track names): a numerics record, or a header that does not parse, has none."""
        required = [c for c in BidmcData().required_channels if c in tracks]
        try:
            names = read_header(hea).sig_name
        except CaseError:
            return {}
        return channel_columns(names, tracks, required)[0]

    def claims(self, path: Path, tracks: TrackMaps | None = None) -> PredictInput | None:
        if path.is_file() and path.suffix == ".hea" and self._columns(path, self.track_map(tracks)):
            return PredictInput(self.name, path, path.stem)
        return None

    def find_under(self, folder: Path, tracks: TrackMaps | None = None) -> list[PredictInput]:
        return [item for hea in sorted(folder.rglob("*.hea")) if (item := self.claims(hea, tracks))]

    def load_input(
        self,
        item: PredictInput,
        needed: Sequence[str],
        optional: Sequence[str],
        tracks: TrackMaps | None = None,
    ) -> Recording:
        """Signals are found by the model's ``data.bidmc.tracks`` (the published BIDMC
        names by default)."""
        names = read_header(item.path).sig_name
        default = self.track_map(tracks)
        found, missing = channel_columns(names, default, needed)
        if missing:
            raise CaseError(
                f"{item.path}: missing channel(s) {missing} the model needs (signals: "
                f"{[track_name(n) for n in names]}); use a model trained on this record's channels"
            )
        extra, _ = channel_columns(names, default, [c for c in optional if c not in needed])
        return load_wfdb_record(item.path, item.recording, item.recording, {**found, **extra})


SOURCE = BidmcSource()
