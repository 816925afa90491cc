"""What ``ttmbio predict`` is pointed at: a recording of any dataset ttmbio reads, or a folder.

Each dataset's reader (:mod:`ttmbio.sources.registry`) says which paths are its inputs: a
``.vital`` file, a BUT-PPG record (its folder or one of its ``.hea`` files), a BIDMC-style
WFDB record... A folder that is not itself a recording is searched recursively for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ttmbio.errors import SourceError
from ttmbio.sources.base import PredictInput, Recording
from ttmbio.sources.registry import TrackMaps, accepted_inputs, all_sources, source_of


def find_inputs(path: Path, tracks: TrackMaps | None = None) -> list[PredictInput]:
    """The recordings under ``path``, in a stable order; one-line error when there are none.
    ``tracks`` is the model's track maps: a record is found by the names it was trained on."""
    path = Path(path)
    accepted = accepted_inputs()
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder; pass {accepted}")
    sources = all_sources().values()
    for source in sources:
        item = source.claims(path, tracks)
        if item is not None:
            return [item]
    if path.is_file():
        raise SourceError(f"{path}: not a recording ttmbio can read; pass {accepted}")
    found: list[PredictInput] = []
    for source in sources:  # a file inside a recording found already is not another one
        taken = {item.path for item in found}
        found += [
            item
            for item in source.find_under(path, tracks)
            if item.path not in taken and not taken.intersection(item.path.parents)
        ]
    if not found:
        raise SourceError(f"{path}: no recordings found; pass {accepted}")
    return found


def load_input(
    item: PredictInput,
    needed: Sequence[str],
    optional: Sequence[str],
    tracks: TrackMaps | None = None,
) -> Recording:
    """Read the ``needed`` channels (and whichever ``optional`` ones exist) of one input.

    Raises :class:`CaseError` naming the file when it is corrupt, too short to read or lacks a
    needed channel.
    """
    return source_of(item.source).load_input(item, needed, optional, tracks)
