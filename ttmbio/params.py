"""Typed, validated view of ``params.yaml`` (read through pydantic-settings).

Every stage loads the whole file through :func:`load_params` before doing any work, so a
typo (``dvc exp run -S splits.sed=7``) or an impossible combination is refused up front with
one line naming the param, its value and what is allowed. Defaults here mirror the committed
``params.yaml``; DVC tracks the file, so the file stays the single source of truth.
"""

from __future__ import annotations

import contextvars
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from ttmbio.errors import ConfigError

DEFAULT_PARAMS_PATH = Path("params.yaml")
_params_path: contextvars.ContextVar[Path] = contextvars.ContextVar(
    "params_path", default=DEFAULT_PARAMS_PATH
)

SPLIT_NAMES = ("train", "val", "test")

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveInt = Annotated[int, Field(gt=0)]


class Section(BaseModel):
    """Base of every params section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- data


class VitalDBData(Section):
    """Where VitalDB-format cases come from.

    ``vital_dir`` reads a folder of ``.vital`` files (the synthetic default lives in one);
    ``vitaldb_api`` downloads the open dataset into ``cache_dir``. ``tracks`` maps each channel
    name to the track names that may carry it, first present wins (``SNUADC/PLETH`` vs
    ``Intellivue/PLETH``).
    """

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

    @model_validator(mode="after")
    def _channels_known(self) -> VitalDBData:
        unknown = [c for c in self.required_channels if c not in self.tracks]
        if unknown:
            raise ValueError(
                f"required_channels names {unknown} which data.vitaldb.tracks does not map "
                f"(known: {sorted(self.tracks)}); add them to data.vitaldb.tracks"
            )
        empty = [c for c, names in self.tracks.items() if not names]
        if empty:
            raise ValueError(f"tracks for {empty} list no track names; give at least one")
        return self


class ButPPGData(Section):
    """A BUT-PPG folder in PhysioNet's v2 layout (``<id>/<id>_PPG`` ... + CSV annotations)."""

    source: Literal["butppg_dir"] = "butppg_dir"
    path: Path = Path("data/raw/butppg")


class DataParams(Section):
    vitaldb: VitalDBData = VitalDBData()
    butppg: ButPPGData = ButPPGData()


# --------------------------------------------------------------------------- synth


class SynthVitalDB(Section):
    n_cases: PositiveInt = 40
    n_subjects: PositiveInt = 32
    duration_min: tuple[float, float] = (10.0, 15.0)
    bis_fraction: Fraction = 0.4

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


class SynthButPPG(Section):
    n_subjects: PositiveInt = 30
    records_per_subject: PositiveInt = 10
    good_fraction: Fraction = 0.35


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
    k_folds: Annotated[int, Field(ge=0)] = 0
    vitaldb: VitalDBSplit = VitalDBSplit()
    butppg: DatasetSplit = DatasetSplit(stratify_by="quality", summarize=["quality", "hr"])

    @model_validator(mode="after")
    def _valid(self) -> SplitsParams:
        for name, mapping in (("ratios", self.ratios), ("fasttrack_cases", self.fasttrack_cases)):
            if set(mapping) != set(SPLIT_NAMES):
                raise ValueError(
                    f"{name} must have exactly the keys {list(SPLIT_NAMES)}, got {sorted(mapping)}"
                )
        total = sum(self.ratios.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(
                f"ratios must sum to 1, got {total:g} ({dict(self.ratios)}); adjust train/val/test"
            )
        if self.k_folds == 1:
            raise ValueError("k_folds must be 0 (off) or >= 2, got 1")
        return self


# --------------------------------------------------------------------------- root


class Params(BaseSettings):
    """All of ``params.yaml``; one attribute per section."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    data: DataParams = DataParams()
    synth: SynthParams = SynthParams()
    splits: SplitsParams = SplitsParams()

    @model_validator(mode="after")
    def _cross_section(self) -> Params:
        case_set = self.splits.vitaldb.case_set
        if case_set not in self.data.vitaldb.case_sets:
            raise ValueError(
                f"splits.vitaldb.case_set={case_set!r} is not a key of data.vitaldb.case_sets "
                f"(known: {sorted(self.data.vitaldb.case_sets)})"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # params.yaml only: DVC tracks that file, and an environment variable it cannot see
        # would make a run irreproducible.
        return (init_settings, YamlConfigSettingsSource(settings_cls, yaml_file=_params_path.get()))


def _describe(error: dict[str, Any], path: Path) -> str:
    loc = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown param {loc!r}; remove it or check its spelling"
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error":  # model validators: msg starts with the field's name
        return f"{path}: {loc + '.' if loc else ''}{msg}"
    return f"{path}: {loc} = {error.get('input')!r}: {msg}"


def load_params(path: Path | str = DEFAULT_PARAMS_PATH) -> Params:
    """Load and validate ``params.yaml``; raise :class:`ConfigError` with a one-line reason."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found; run from the repository root")
    token = _params_path.set(path)
    try:
        return Params()
    except ValidationError as err:
        raise ConfigError("; ".join(_describe(e, path) for e in err.errors())) from None
    except Exception as err:  # YAML syntax errors and the like
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"{path}: cannot be read ({first}); fix the YAML syntax") from None
    finally:
        _params_path.reset(token)
