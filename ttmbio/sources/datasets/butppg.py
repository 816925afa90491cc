"""A BUT-PPG folder in PhysioNet's v2 layout, read with ``wfdb``.

Layout: ``<id>/<id>_PPG`` (30 Hz smartphone PPG), ``<id>/<id>_ECG`` (1000 Hz), ``<id>/<id>_ACC``
(3-axis, 100 Hz), each a WFDB record of 10 s; ``quality-hr-ann.csv`` (ID, Quality, HR) and
``subject-info.csv`` (ID, Gender, Age, ...). Record ids are six digits whose first three name
the subject.

Some published headers have the signal count and the sample count swapped (``100001_PPG 300 30
1`` instead of ``100001_PPG 1 30 300``); wfdb then reads garbage or a single sample. The header
is checked against its signal lines and the data file size: a swap is repaired (and reported),
any other mismatch skips the record.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import wfdb

from ttmbio.errors import CaseError, SourceError
from ttmbio.params import Params
from ttmbio.sources.base import (
    CaseEntry,
    PredictInput,
    Recording,
    Signal,
    Skipped,
    SourceIndex,
    plain_attrs,
)
from ttmbio.sources.registry import DatasetSource, TrackMaps
from ttmbio.splits.schema import CaseRow

DATASET = "butppg"
ANNOTATIONS = "quality-hr-ann.csv"
SUBJECT_INFO = "subject-info.csv"
PARTS = ("PPG", "ECG", "ACC")
ACC_CHANNELS = ("ACC_X", "ACC_Y", "ACC_Z")
_BYTES_PER_SAMPLE = {
    "8": 1,
    "16": 2,
    "24": 3,
    "32": 4,
    "61": 2,
    "80": 1,
    "160": 2,
    "212": 1.5,
    "310": 4 / 3,
    "311": 4 / 3,
}


@dataclass(frozen=True)
class HeaderCheck:
    """Outcome of checking one ``.hea``: the corrected header text when it had to be repaired."""

    n_sig: int
    n_samples: int
    fixed_text: str | None = None


def subject_of(record_id: str) -> str:
    """BUT-PPG record ids are ``SSSNNN``: the first three digits are the subject."""
    return record_id[:3] if len(record_id) == 6 and record_id.isdigit() else record_id


def _data_bytes(dat: Path) -> int | None:
    return dat.stat().st_size if dat.is_file() else None


def check_header(hea: Path) -> HeaderCheck:
    """Validate a single-segment header; repair swapped signal/sample counts.

    Raises :class:`CaseError` (naming the file) when the header is unusable.
    """
    if not hea.is_file():
        raise CaseError(f"{hea}: header file missing")
    lines = [
        ln
        for ln in hea.read_text(errors="replace").splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if not lines:
        raise CaseError(f"{hea}: empty WFDB header")
    fields = lines[0].split()
    if len(fields) < 4 or not fields[1].isdigit() or not re.fullmatch(r"\d+", fields[3]):
        raise CaseError(f"{hea}: record line {lines[0]!r} lacks signal and sample counts")
    n_sig, n_samples, n_lines = int(fields[1]), int(fields[3]), len(lines) - 1
    if n_lines == 0:
        raise CaseError(f"{hea}: no signal lines")
    fmt = lines[1].split()[1].split("x")[0].split(":")[0].split("+")[0]
    dat = hea.parent / lines[1].split()[0]
    size = _data_bytes(dat)
    width = _BYTES_PER_SAMPLE.get(fmt)

    def consistent(sig: int, samples: int) -> bool:
        if sig != n_lines or samples <= 1:
            return False
        return size is None or width is None or abs(size - sig * samples * width) < 4

    if consistent(n_sig, n_samples):
        return HeaderCheck(n_sig, n_samples)
    if consistent(n_samples, n_sig):
        fields[1], fields[3] = fields[3], fields[1]
        text = hea.read_text(errors="replace").replace(lines[0], " ".join(fields), 1)
        return HeaderCheck(n_samples, n_sig, fixed_text=text)
    raise CaseError(
        f"{hea}: header says {n_sig} signal(s) x {n_samples} sample(s) but has "
        f"{n_lines} signal line(s) and {size} data bytes; re-download the record"
    )


def _read_record(hea: Path, check: HeaderCheck) -> wfdb.Record:
    """Read with wfdb; a missing or damaged data file is a :class:`CaseError` naming it."""
    try:
        return _rdrecord(hea, check)
    except (ValueError, OSError, IndexError) as err:  # what wfdb raises on malformed files
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        raise CaseError(f"{hea}: unreadable WFDB record ({reason}); re-download it") from None


def _rdrecord(hea: Path, check: HeaderCheck) -> wfdb.Record:
    if check.fixed_text is None:
        return wfdb.rdrecord(str(hea.with_suffix("")))
    with tempfile.TemporaryDirectory(prefix="ttmbio-hea-") as tmp:
        fixed = Path(tmp) / hea.name
        fixed.write_text(check.fixed_text)
        for dat in hea.parent.glob(f"{hea.stem}.*"):
            if dat.suffix != ".hea":
                shutil.copyfile(dat, Path(tmp) / dat.name)
        return wfdb.rdrecord(str(fixed.with_suffix("")))


def _read_csv(path: Path, required: set[str]) -> pd.DataFrame:
    if not path.is_file():
        raise SourceError(
            f"{path}: not found; a BUT-PPG folder needs {ANNOTATIONS} and "
            f"{SUBJECT_INFO} (set data.butppg.path)"
        )
    table = pd.read_csv(path)
    table.columns = [str(c).strip() for c in table.columns]
    missing = required - set(table.columns)
    if missing:
        raise SourceError(f"{path}: lacks columns {sorted(missing)}")
    table["ID"] = table["ID"].astype(str).str.strip()
    return table.set_index("ID", drop=False)


def scan_butppg_dir(folder: Path) -> SourceIndex:
    """Index the annotated records; unreadable or inconsistent ones are skipped and reported."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(
            f"{folder}: BUT-PPG folder not found; run `ttmbio synth` or set data.butppg.path"
        )
    annotations = _read_csv(folder / ANNOTATIONS, {"ID", "Quality", "HR"})
    info = _read_csv(folder / SUBJECT_INFO, {"ID"})
    if annotations.empty:
        raise SourceError(f"{folder / ANNOTATIONS}: no records listed")
    index = SourceIndex(DATASET)
    for record_id in sorted(annotations.index):
        try:
            fixed = _check_record(folder, record_id)
        except CaseError as err:
            index.skipped.append(Skipped(DATASET, record_id, str(folder / record_id), str(err)))
            continue
        index.notes.extend(f"{path}: swapped signal/sample counts repaired" for path in fixed)
        row = annotations.loc[record_id]
        has_acc = (folder / record_id / f"{record_id}_ACC.hea").is_file()
        attrs: dict[str, object] = {
            "quality": int(row["Quality"]),
            "hr": float(row["HR"]),
            "has_acc": has_acc,
        }
        if record_id in info.index:
            attrs.update(plain_attrs(info.loc[record_id].drop("ID")))
        index.cases.append(
            CaseEntry(DATASET, record_id, subject_of(record_id), str(folder / record_id), (), attrs)
        )
    return index


def _check_record(folder: Path, record_id: str) -> list[Path]:
    """Check each part's header (ACC optional); return the headers that needed repair."""
    repaired = []
    for part in PARTS:
        hea = folder / record_id / f"{record_id}_{part}.hea"
        if part == "ACC" and not hea.exists():
            continue
        if check_header(hea).fixed_text is not None:
            repaired.append(hea)
    return repaired


def load_butppg_record(folder: Path, record_id: str, with_acc: bool = True) -> Recording:
    """Load PPG, ECG (and ACC_X/Y/Z) of one record at their native rates."""
    folder = Path(folder)
    signals: dict[str, Signal] = {}
    for part in PARTS if with_acc else PARTS[:2]:
        hea = folder / record_id / f"{record_id}_{part}.hea"
        record = _read_record(hea, check_header(hea))
        data = np.asarray(record.p_signal, dtype=np.float32)
        if part == "ACC":
            if data.shape[1] < 3:
                raise CaseError(f"{hea}: ACC record has {data.shape[1]} signal(s), need 3")
            for i, name in enumerate(ACC_CHANNELS):
                signals[name] = Signal(np.ascontiguousarray(data[:, i]), float(record.fs))
        else:
            signals[part] = Signal(np.ascontiguousarray(data[:, 0]), float(record.fs))
    return Recording(DATASET, record_id, subject_of(record_id), signals)


def _is_record(folder: Path) -> bool:
    return (folder / f"{folder.name}_PPG.hea").is_file()


class ButPPGSource(DatasetSource):
    """BUT-PPG records; a record is named by its folder or one of its ``.hea`` files."""

    name = DATASET
    accepts = "a BUT-PPG record (<id>/<id>_PPG.hea)"

    def index(self, params: Params) -> SourceIndex:
        return scan_butppg_dir(params.data.butppg.path)

    def load(self, row: CaseRow, channels: Sequence[str], params: Params) -> Recording:
        with_acc = any(c in ACC_CHANNELS for c in channels)
        if with_acc and not row.attrs.get("has_acc", True):
            raise CaseError(
                f"{row.file}: record has no ACC file ({row.case_id}_ACC.hea), which "
                "windows.butppg.channels asks for; add it or drop ACC_X/ACC_Y/ACC_Z there"
            )
        return load_butppg_record(Path(row.file).parent, row.case_id, with_acc=with_acc)

    def claims(self, path: Path, tracks: TrackMaps | None = None) -> PredictInput | None:
        if path.is_dir():
            return PredictInput(self.name, path, path.name) if _is_record(path) else None
        record_id, _, part = path.stem.rpartition("_")
        if path.suffix != ".hea" or part not in PARTS or path.parent.name != record_id:
            return None
        return PredictInput(self.name, path.parent, record_id)

    def find_under(self, folder: Path, tracks: TrackMaps | None = None) -> list[PredictInput]:
        return [
            PredictInput(self.name, hea.parent, hea.parent.name)
            for hea in sorted(folder.rglob("*_PPG.hea"))
            if _is_record(hea.parent)
        ]

    def load_input(
        self,
        item: PredictInput,
        needed: Sequence[str],
        optional: Sequence[str],
        tracks: TrackMaps | None = None,
    ) -> Recording:
        wants_acc = any(c in ACC_CHANNELS for c in needed)
        has_acc = (item.path / f"{item.recording}_ACC.hea").is_file()
        if wants_acc and not has_acc:
            raise CaseError(
                f"{item.path}: record has no ACC file ({item.recording}_ACC.hea); the model "
                f"needs channels {list(needed)}"
            )
        rec = load_butppg_record(
            item.path.parent, item.recording, with_acc=wants_acc or (has_acc and bool(optional))
        )
        missing = [c for c in needed if c not in rec.signals]
        if missing:
            raise CaseError(f"{item.path}: missing channel(s) {missing} the model needs")
        return rec


SOURCE = ButPPGSource()
