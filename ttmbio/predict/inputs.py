"""What ``ttmbio predict`` is pointed at: ``.vital`` files and BUT-PPG records, or a folder.

A BUT-PPG record is the PhysioNet v2 layout, ``<id>/<id>_PPG.hea`` (+ ``_ECG``, ``_ACC``); it
can be named by its folder or by one of its ``.hea`` files. A folder that is not itself a
record is searched recursively for both kinds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ttmbio.errors import CaseError, SourceError
from ttmbio.sources.base import Recording
from ttmbio.sources.butppg import ACC_CHANNELS, PARTS, load_butppg_record
from ttmbio.sources.vital_dir import (
    check_vital_file,
    load_vital_recording,
    read_track_names,
    resolve_channels,
)

ACCEPTED = "a .vital file, a BUT-PPG record (<id>/<id>_PPG.hea) or a folder of them"


@dataclass(frozen=True)
class PredictInput:
    kind: Literal["vital", "butppg"]
    path: Path  # the .vital file, or the BUT-PPG record's folder
    recording: str  # the case id (file stem) or record id


def _is_record(folder: Path) -> bool:
    return (folder / f"{folder.name}_PPG.hea").is_file()


def _record_of_header(hea: Path) -> PredictInput:
    record_id, _, part = hea.stem.rpartition("_")
    if part not in PARTS or hea.parent.name != record_id:
        raise SourceError(
            f"{hea}: not a BUT-PPG record header; expected <id>/<id>_PPG.hea (or _ECG/_ACC)"
        )
    return PredictInput("butppg", hea.parent, record_id)


def find_inputs(path: Path) -> list[PredictInput]:
    """The recordings under ``path``, in a stable order; one-line error when there are none."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder; pass {ACCEPTED}")
    if path.is_file():
        if path.suffix == ".vital":
            return [PredictInput("vital", path, path.stem)]
        if path.suffix == ".hea":
            return [_record_of_header(path)]
        raise SourceError(f"{path}: not a recording ttmbio can read; pass {ACCEPTED}")
    if _is_record(path):
        return [PredictInput("butppg", path, path.name)]
    found = [PredictInput("vital", p, p.stem) for p in sorted(path.rglob("*.vital"))]
    found += [
        PredictInput("butppg", hea.parent, hea.parent.name)
        for hea in sorted(path.rglob("*_PPG.hea"))
        if _is_record(hea.parent)
    ]
    if not found:
        raise SourceError(f"{path}: no .vital files or BUT-PPG records found; pass {ACCEPTED}")
    return found


def load_input(
    item: PredictInput,
    needed: Sequence[str],
    optional: Sequence[str],
    tracks: dict[str, list[str]],
) -> Recording:
    """Read the ``needed`` channels (and whichever ``optional`` ones exist) of one input.

    Raises :class:`CaseError` naming the file when it is corrupt, too short to read or lacks a
    needed channel.
    """
    if item.kind == "butppg":
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
    check_vital_file(item.path)
    present, _ = read_track_names(item.path)
    aliases = {c: tracks.get(c, []) for c in [*needed, *optional]}
    found, missing = resolve_channels(present, aliases, needed)
    if missing:
        tried = {c: aliases[c] for c in missing if aliases[c]}
        raise CaseError(
            f"{item.path}: missing channel(s) {missing} the model needs "
            + (f"(tracks tried: {tried})" if tried else "(no .vital track carries them)")
            + "; use a model trained on this file's channels"
        )
    extra, _ = resolve_channels(present, aliases, [c for c in optional if c not in needed])
    return load_vital_recording(item.path, item.recording, item.recording, {**found, **extra})
