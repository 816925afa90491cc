"""The data, synth and splits sections: where recordings come from, how the synthetic
default is made and how cases are split."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import (
    Field,
    PositiveInt,
    model_validator,
)

from ttmbio.params.common import SPLIT_NAMES, Fraction, Section

# --------------------------------------------------------------------------- data


BUTPPG_CHANNELS = ("PPG", "ECG", "ACC_X", "ACC_Y", "ACC_Z")
BootstrapUnit = Literal["subject", "recording"]


class TrackMapped(Section):
    """A dataset whose files name their signals: ``tracks`` maps each channel to the track
    names that may carry it, first present wins; a case lacking a ``required_channels`` one
    is skipped."""

    NAME: ClassVar[str]
    tracks: dict[str, list[str]]
    required_channels: list[str]

    @model_validator(mode="after")
    def _channels_known(self) -> TrackMapped:
        unknown = [c for c in self.required_channels if c not in self.tracks]
        if unknown:
            raise ValueError(
                f"required_channels names {unknown} which data.{self.NAME}.tracks does not map "
                f"(known: {sorted(self.tracks)}); add them to data.{self.NAME}.tracks"
            )
        empty = [c for c, names in self.tracks.items() if not names]
        if empty:
            raise ValueError(f"tracks for {empty} list no track names; give at least one")
        return self

    @property
    def channels(self) -> tuple[str, ...]:
        """Every channel this dataset can give the windows stage."""
        return tuple(self.tracks)


class VitalDBData(TrackMapped):
    """Where VitalDB-format cases come from.

    ``vital_dir`` reads a folder of ``.vital`` files (the synthetic default lives in one);
    ``vitaldb_api`` downloads the open dataset into ``cache_dir``. ``tracks`` maps each channel
    name to the track names that may carry it, first present wins (``SNUADC/PLETH`` vs
    ``Intellivue/PLETH``).
    """

    NAME: ClassVar[str] = "vitaldb"
    BOOTSTRAP_UNIT: ClassVar[BootstrapUnit] = "subject"
    source: Literal["vital_dir", "vitaldb_api"] = "vital_dir"
    path: Path = Path("data/raw/vitaldb")
    clinical_csv: Path | None = Path("data/raw/vitaldb/cases.csv")
    api_url: str = "https://api.vitaldb.net"
    cache_dir: Path = Path("data/cache/vitaldb")
    max_cases: PositiveInt | None = None
    tracks: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "ECG": ["SNUADC/ECG_II"],
            "PPG": ["SNUADC/PLETH"],
            "ABP": ["SNUADC/ART"],
        }
    )
    required_channels: list[str] = Field(default_factory=lambda: ["ECG", "PPG", "ABP"])
    case_sets: dict[str, list[str]] = Field(default_factory=lambda: {"all": [], "bis": ["BIS/BIS"]})


class ButPPGData(Section):
    """A BUT-PPG folder in PhysioNet's v2 layout (``<id>/<id>_PPG`` ... + CSV annotations).

    Its 10-s records come a dozen per subject, too few subjects for a subject-level bootstrap
    of the quality task: intervals resample recordings."""

    NAME: ClassVar[str] = "butppg"
    BOOTSTRAP_UNIT: ClassVar[BootstrapUnit] = "recording"
    source: Literal["butppg_dir"] = "butppg_dir"
    path: Path = Path("data/raw/butppg")

    @property
    def channels(self) -> tuple[str, ...]:
        return BUTPPG_CHANNELS


class BidmcData(TrackMapped):
    """A folder of single-segment PhysioNet WFDB records laid out like the BIDMC PPG and
    Respiration Dataset (doi:10.13026/C2208R): one 8-min record per ICU patient at 125 Hz,
    ``bidmcNN.hea`` + ``.dat`` with signals ``RESP, PLETH, V, AVR, II`` and
    ``<age>: 88 <sex>: F`` in the header comments (``bidmcNNn`` numerics records lack the
    waveforms and are left out). Not in ``data.datasets`` by default: download it, point
    ``path`` at it and add ``bidmc`` there."""

    NAME: ClassVar[str] = "bidmc"
    BOOTSTRAP_UNIT: ClassVar[BootstrapUnit] = "subject"
    source: Literal["wfdb_dir"] = "wfdb_dir"
    path: Path = Path("data/raw/bidmc")
    tracks: dict[str, list[str]] = Field(
        default_factory=lambda: {"PPG": ["PLETH"], "ECG": ["II"], "RESP": ["RESP"]}
    )
    required_channels: list[str] = Field(default_factory=lambda: ["PPG", "ECG"])


DatasetData = VitalDBData | ButPPGData | BidmcData


class DataParams(Section):
    """``datasets``: which sections below the splits and windows stages read, in order (each
    has its reader in ``ttmbio/sources/datasets/``)."""

    datasets: list[str] = Field(default_factory=lambda: ["vitaldb", "butppg"])
    vitaldb: VitalDBData = VitalDBData()
    butppg: ButPPGData = ButPPGData()
    bidmc: BidmcData = BidmcData()

    @model_validator(mode="after")
    def _datasets_known(self) -> DataParams:
        known = self.sections()
        unknown = [d for d in self.datasets if d not in known]
        if unknown or not self.datasets or len(set(self.datasets)) != len(self.datasets):
            raise ValueError(
                f"datasets must be distinct names of data sections {known}, got {self.datasets}"
            )
        return self

    @classmethod
    def sections(cls) -> list[str]:
        """The names of the dataset sections (every field but ``datasets``)."""
        return [name for name in cls.model_fields if name != "datasets"]

    @classmethod
    def bootstrap_unit(cls, name: str) -> BootstrapUnit:
        """What intervals resample for dataset ``name`` (its section's ``BOOTSTRAP_UNIT``)."""
        if name not in cls.sections():
            raise ValueError(f"no data section {name!r} (known: {cls.sections()})")
        return cls.model_fields[name].annotation.BOOTSTRAP_UNIT  # type: ignore[union-attr]

    def track_maps(self) -> dict[str, dict[str, list[str]]]:
        """Per dataset whose files name their signals: channel -> track names (``tracks``)."""
        return {
            name: section.tracks
            for name in self.sections()
            if isinstance(section := self.dataset(name), TrackMapped)
        }

    def dataset(self, name: str) -> DatasetData:
        """The section of dataset ``name``."""
        return getattr(self, name)

    @property
    def known_channels(self) -> frozenset[str]:
        """Every channel name some dataset section can give."""
        return frozenset(c for name in self.sections() for c in self.dataset(name).channels)


# --------------------------------------------------------------------------- synth


class CaseMix(Section):
    """How often a synthetic case has BIS and each pathology, as
    :func:`ttmbio.synth.case_profile.random_case_profile` draws them: ``*_fraction`` are
    shares of cases (of hypotension episodes for ``precursor_fraction``: those with clear
    warning signs, strength 0.4-1; the others have weak or none, 0-0.15), ``*_per_min`` the
    [low, high] range an affected case's ectopy rate is drawn from (log-uniformly); a case
    with AF has 1 or 2 episodes; false alarms are Poisson with the given rate."""

    bis_fraction: Fraction = 0.4
    pvc_fraction: Fraction = 0.3
    pvc_per_min: tuple[float, float] = (0.5, 6.0)
    pac_fraction: Fraction = 0.3
    pac_per_min: tuple[float, float] = (0.5, 6.0)
    af_fraction: Fraction = 0.2
    low_perfusion_fraction: Fraction = 0.15
    precursor_fraction: Fraction = 0.8
    false_alarms_per_hour: Annotated[float, Field(ge=0.0)] = 2.0
    hypotension_episodes: tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]] = (0, 3)

    @model_validator(mode="after")
    def _consistent_mix(self) -> CaseMix:
        if self.hypotension_episodes[0] > self.hypotension_episodes[1]:
            raise ValueError(
                f"hypotension_episodes must be [low, high] with low <= high, got "
                f"{list(self.hypotension_episodes)}"
            )
        for name in ("pvc_per_min", "pac_per_min"):
            lo, hi = getattr(self, name)
            if not 0.0 < lo <= hi <= 20.0:
                raise ValueError(
                    f"{name} must be [low, high] beats per minute with 0 < low <= high <= 20, "
                    f"got {[lo, hi]}"
                )
        return self


class SynthVitalDB(CaseMix):
    """How many cases, of which length, over how many subjects; the pathology they carry is
    the :class:`CaseMix` this section extends (one definition of its fields and defaults)."""

    n_cases: PositiveInt = 40
    n_subjects: PositiveInt = 32
    duration_min: tuple[float, float] = (20.0, 30.0)

    @model_validator(mode="after")
    def _consistent(self) -> SynthVitalDB:
        lo, hi = self.duration_min
        if not 1.0 <= lo <= hi:
            raise ValueError(
                f"duration_min must be [low, high] minutes with 1 <= low <= high, got {[lo, hi]}"
            )
        if self.n_subjects > self.n_cases:
            raise ValueError(f"n_subjects ({self.n_subjects}) must be <= n_cases ({self.n_cases})")
        return self

    @property
    def mix(self) -> CaseMix:
        """The pathology shares alone (what each case's draw needs)."""
        return CaseMix(**self.model_dump(include=set(CaseMix.model_fields)))


class SynthButPPG(Section):
    """50 subjects like the published BUT-PPG; 12 records each keeps the test split large
    enough (~170 windows) for a calibration error that is not mostly sampling noise.

    Quality lives in the PPG (``ttmbio.synth.butppg``): ``borderline_fraction`` of the good
    records carry mild corruption, ``moving_fraction`` is the share of [good, poor] records
    whose phone moves (so ACC is only partly informative) and ``label_noise`` the share of
    labels flipped between the classes, as between annotators (keeps ``good_fraction``)."""

    n_subjects: PositiveInt = 50
    records_per_subject: PositiveInt = 12
    good_fraction: Fraction = 0.35
    label_noise: Annotated[float, Field(ge=0.0, le=0.5)] = 0.07
    borderline_fraction: Fraction = 0.3
    moving_fraction: tuple[Fraction, Fraction] = (0.25, 0.5)


class SynthParams(Section):
    """Size and seed of the embedded default dataset written by ``ttmbio synth``."""

    seed: int = 42
    workers: PositiveInt = 2
    vitaldb: SynthVitalDB = SynthVitalDB()
    butppg: SynthButPPG = SynthButPPG()


# --------------------------------------------------------------------------- splits


class DatasetSplit(Section):
    """``stratify_by``: a case-level column whose shares each split keeps; ``summarize``:
    numeric columns whose per-split means are reported, to check the splits' balance."""

    stratify_by: str | None = None
    summarize: list[str] = Field(default_factory=list)


class VitalDBSplit(DatasetSplit):
    case_set: str = "all"
    summarize: list[str] = Field(default_factory=lambda: ["age", "asa"])


def _check_split_keys(name: str, mapping: Mapping[str, object]) -> None:
    if set(mapping) != set(SPLIT_NAMES):
        raise ValueError(
            f"{name} must have exactly the keys {list(SPLIT_NAMES)}, got {sorted(mapping)}"
        )


def check_split_ratios(ratios: Mapping[str, float]) -> None:
    """Refuse ratios that are not exactly train/val/test summing to 1 (both split params)."""
    _check_split_keys("ratios", ratios)
    total = sum(ratios.values())
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise ValueError(
            f"ratios must sum to 1, got {total:g} ({dict(ratios)}); adjust train/val/test"
        )


class SplitsParams(Section):
    """Subject-level train/val/test assignment (spec 000), optional k folds over train+val."""

    seed: int = 42
    ratios: dict[str, Fraction] = Field(
        default_factory=lambda: {"train": 0.7, "val": 0.15, "test": 0.15}
    )
    fasttrack: bool = False
    fasttrack_cases: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=lambda: {"train": 50, "val": 0, "test": 20}
    )
    # fold ids, [] = off; [0, 1, 2, 3, 4] = 5 subject-disjoint folds over train+val. A list,
    # not a count, because DVC's `matrix` runs one cv-fold stage per entry of it.
    folds: list[int] = Field(default_factory=list)
    vitaldb: VitalDBSplit = VitalDBSplit()
    butppg: DatasetSplit = DatasetSplit(stratify_by="quality", summarize=["quality", "hr"])
    bidmc: DatasetSplit = DatasetSplit(summarize=["age"])

    @model_validator(mode="after")
    def _valid(self) -> SplitsParams:
        check_split_ratios(self.ratios)
        _check_split_keys("fasttrack_cases", self.fasttrack_cases)
        if self.folds and (len(self.folds) < 2 or self.folds != list(range(len(self.folds)))):
            raise ValueError(
                f"folds must be [] (off) or [0, 1, ..., k-1] with k >= 2, got {self.folds}; "
                "e.g. splits.folds=[0,1,2,3,4] for 5-fold cross-validation"
            )
        return self

    @property
    def k_folds(self) -> int:
        """Number of cross-validation folds (0: off)."""
        return len(self.folds)
