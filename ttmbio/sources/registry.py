"""The datasets ttmbio reads, each behind one :class:`DatasetSource`.

A source answers the three questions the pipeline asks of a dataset: which cases are there
(``index`` and ``select``, for the splits stage), how to read one of them (``load``, for
windows), and which files ``ttmbio predict`` was pointed at are its recordings (``claims`` /
``find_under``, then ``load_input``). Each lives
in its own module of :mod:`ttmbio.sources.datasets`, found by listing that package: the stages
name no dataset, they loop over ``data.datasets``.
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import ClassVar

from ttmbio.errors import ConfigError
from ttmbio.params import DataParams, Params
from ttmbio.params.data import TrackMapped
from ttmbio.sources import datasets
from ttmbio.sources.base import CaseEntry, PredictInput, Recording, SourceIndex
from ttmbio.splits.schema import CaseRow

TrackMaps = dict[str, dict[str, list[str]]]  # dataset -> channel -> track names (a model's)


class DatasetSource(ABC):
    """How one dataset is indexed, loaded and recognised; its config is ``data.<name>``."""

    name: ClassVar[str]
    accepts: ClassVar[str]  # what `ttmbio predict` takes from this dataset, for messages
    fasttrack: ClassVar[bool] = False  # whether splits.fasttrack (the spec's case counts) applies

    @abstractmethod
    def index(self, params: Params) -> SourceIndex:
        """Every case (and every skipped one, with its reason), cheaply: no waveform is read."""

    def select(self, index: SourceIndex, params: Params) -> tuple[list[CaseEntry], int]:
        """The indexed cases the splits take, and how many the dataset's own filters left out."""
        return index.cases, 0

    @abstractmethod
    def load(self, row: CaseRow, channels: Sequence[str], params: Params) -> Recording:
        """The ``channels`` of one split-file row; :class:`~ttmbio.errors.CaseError` naming the
        file when it cannot give them."""

    @abstractmethod
    def claims(self, path: Path, tracks: TrackMaps | None = None) -> PredictInput | None:
        """``path`` as an input of this dataset (a file, or a record's folder), else None.
        ``tracks`` is the model's track maps, for a dataset whose signals are found by name."""

    @abstractmethod
    def find_under(self, folder: Path, tracks: TrackMaps | None = None) -> list[PredictInput]:
        """Every input of this dataset below ``folder``, in a stable order."""

    @abstractmethod
    def load_input(
        self,
        item: PredictInput,
        needed: Sequence[str],
        optional: Sequence[str],
        tracks: TrackMaps | None = None,
    ) -> Recording:
        """The ``needed`` channels (and whichever ``optional`` ones exist) of one input;
        ``tracks`` is the model's track maps. CaseError naming the file otherwise."""

    def track_map(self, tracks: TrackMaps | None) -> dict[str, list[str]]:
        """This dataset's map in the model's ``tracks``, else its ``data.<name>.tracks``
        default (empty for a dataset whose channels are not found by name)."""
        if tracks and self.name in tracks:
            return tracks[self.name]
        field = DataParams.model_fields.get(self.name)
        if field is None:
            raise ConfigError(
                f"dataset {self.name!r} has a reader but no data.{self.name} params section; "
                "add its section to ttmbio/params/data.py (see README: adding a dataset)"
            )
        section = field.annotation
        if isinstance(section, type) and issubclass(section, TrackMapped):
            return section().tracks
        return {}


@cache
def all_sources() -> dict[str, DatasetSource]:
    """Every dataset module's ``SOURCE``: the default datasets first, the others by name."""
    found: dict[str, DatasetSource] = {}
    for module_info in pkgutil.iter_modules(datasets.__path__):
        module = importlib.import_module(f"{datasets.__name__}.{module_info.name}")
        source = getattr(module, "SOURCE", None)
        if isinstance(source, DatasetSource):
            found[source.name] = source
    order = [*DataParams().datasets, *sorted(found)]
    return {name: found[name] for name in dict.fromkeys(order) if name in found}


def source_of(name: str) -> DatasetSource:
    """The source of dataset ``name``; a one-line error when no module reads it."""
    sources = all_sources()
    if name not in sources:
        raise ConfigError(
            f"no reader for dataset {name!r} (known: {sorted(sources)}); add a module to "
            "ttmbio/sources/datasets/ that defines SOURCE, or fix data.datasets"
        )
    return sources[name]


def accepted_inputs() -> str:
    """What ``ttmbio predict`` accepts, every dataset's kind of input named."""
    kinds = [s.accepts for s in all_sources().values()]
    return f"{', '.join(kinds[:-1])} or {kinds[-1]}, or a folder of them"
