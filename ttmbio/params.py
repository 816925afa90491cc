"""Typed, validated view of ``params.yaml`` (read through pydantic-settings).

Every stage loads the whole file through :func:`load_params` before doing any work, so a
typo (``dvc exp run -S splits.sed=7``) or an impossible combination is refused up front with
one line naming the param, its value and what is allowed. Defaults here mirror the committed
``params.yaml``; DVC tracks the file, so the file stays the single source of truth.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    model_validator,
)
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
    """Cases and the pathology they carry (``ttmbio.synth.physiology.CaseMix`` has the same
    fields): ``*_fraction`` are shares of cases (of episodes for ``precursor_fraction``),
    ``*_per_min`` the [low, high] range an affected case's ectopy rate is drawn from."""

    n_cases: PositiveInt = 40
    n_subjects: PositiveInt = 32
    duration_min: tuple[float, float] = (20.0, 30.0)
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
    def _consistent(self) -> SynthVitalDB:
        if self.hypotension_episodes[0] > self.hypotension_episodes[1]:
            raise ValueError(
                f"hypotension_episodes must be [low, high] with low <= high, got "
                f"{list(self.hypotension_episodes)}"
            )
        lo, hi = self.duration_min
        if not 1.0 <= lo <= hi:
            raise ValueError(
                f"duration_min must be [low, high] minutes with 1 <= low <= high, got {[lo, hi]}"
            )
        if self.n_subjects > self.n_cases:
            raise ValueError(f"n_subjects ({self.n_subjects}) must be <= n_cases ({self.n_cases})")
        for name in ("pvc_per_min", "pac_per_min"):
            lo, hi = getattr(self, name)
            if not 0.0 < lo <= hi <= 20.0:
                raise ValueError(
                    f"{name} must be [low, high] beats per minute with 0 < low <= high <= 20, "
                    f"got {[lo, hi]}"
                )
        return self


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


# --------------------------------------------------------------------------- windows

Gate = Literal[
    "gap", "flatline", "clipping", "ecg_sqi", "ppg_tsqi", "ppg_ssqi", "cycles", "hr", "bp"
]
GATE_CHANNELS: dict[str, str] = {
    "ecg_sqi": "ECG",
    "ppg_tsqi": "PPG",
    "ppg_ssqi": "PPG",
    "cycles": "PPG",
    "hr": "ECG",
    "bp": "ABP",
}
BUTPPG_CHANNELS = ("PPG", "ECG", "ACC_X", "ACC_Y", "ACC_Z")


class FilterParams(Section):
    """A zero-phase band-pass (or low-/high-pass when one edge is null), as SOS."""

    kind: Literal["butter", "cheby2"] = "butter"
    order: Annotated[int, Field(ge=1, le=10)] = 4
    band: tuple[float | None, float | None] = (0.5, 8.0)
    stopband_db: Annotated[float, Field(gt=0)] = 40.0

    @model_validator(mode="after")
    def _edges(self) -> FilterParams:
        low, high = self.band
        if low is None and high is None:
            raise ValueError("band must have a low or a high edge (or both), got [null, null]")
        if any(e is not None and e <= 0 for e in self.band):
            raise ValueError(f"band edges must be > 0 Hz, got {list(self.band)}")
        if low is not None and high is not None and low >= high:
            raise ValueError(f"band must be [low, high] with low < high, got {list(self.band)}")
        return self


ECGDetector = Literal["neurokit", "pantompkins1985", "kalidas2017", "hamilton2002", "elgendi2010"]


class QualityParams(Section):
    """Thresholds of the quality gates; each rejection is counted under the gate's name.

    The ``ecg_sqi`` / ``ppg_tsqi`` gates compute their SQI by ``ecg_method`` / ``ppg_method``
    (``ttmbio.signal.quality``) and store it under the gate's name:

    * ``morphology`` (default): share of a window's beats explained by <= ``morph_max`` beat
      shapes, a beat joining a shape at correlation >= ``morph_r_min``; kept at
      >= ``ecg_morph_min`` / ``ppg_morph_min``. Clean ectopy and AF pass.
    * ``template``: the spec's mean beat-template correlation (Orphanidou et al. 2015), kept at
      >= ``ecg_sqi_min`` / ``ppg_tsqi_min``; fails clean windows holding an ectopic beat.
    * ``bsqi`` (ECG only): agreement of the two ``ecg_bsqi_detectors`` (Li et al. 2008), kept at
      >= ``ecg_bsqi_min``.
    """

    ecg_method: Literal["morphology", "template", "bsqi"] = "morphology"
    ppg_method: Literal["morphology", "template"] = "morphology"
    ecg_sqi_min: Fraction = 0.9
    ppg_tsqi_min: Fraction = 0.9
    ecg_morph_min: Fraction = 0.8
    ppg_morph_min: Fraction = 0.8
    morph_r_min: Annotated[float, Field(gt=0, le=1)] = 0.9
    morph_max: Annotated[int, Field(ge=1, le=5)] = 2
    ecg_morph_half_s: Annotated[float, Field(gt=0)] = 0.25
    ecg_bsqi_min: Fraction = 0.9
    ecg_bsqi_detectors: tuple[ECGDetector, ECGDetector] = ("pantompkins1985", "kalidas2017")
    ppg_ssqi_min: float = 0.8
    min_cycles: Annotated[int, Field(ge=1)] = 3
    hr_bpm: tuple[float, float] = (30.0, 220.0)
    map_mmhg: tuple[float, float] = (30.0, 200.0)
    pulse_pressure_min_mmhg: Annotated[float, Field(ge=0)] = 10.0
    flatline_max_s: Annotated[float, Field(gt=0)] = 0.5
    clipped_max_fraction: Fraction = 0.01

    @model_validator(mode="after")
    def _distinct_detectors(self) -> QualityParams:
        a, b = self.ecg_bsqi_detectors
        if a == b:
            raise ValueError(
                f"ecg_bsqi_detectors must name two different detectors, got [{a}, {b}]; "
                "e.g. [pantompkins1985, kalidas2017]"
            )
        return self

    def sqi_min(self, sqi: str) -> float:
        """The threshold the gate of the stored SQI ``sqi`` applies, given the chosen method."""
        if sqi == "ecg_sqi":
            return {
                "morphology": self.ecg_morph_min,
                "template": self.ecg_sqi_min,
                "bsqi": self.ecg_bsqi_min,
            }[self.ecg_method]
        if sqi == "ppg_tsqi":
            return self.ppg_morph_min if self.ppg_method == "morphology" else self.ppg_tsqi_min
        if sqi == "ppg_ssqi":
            return self.ppg_ssqi_min
        if sqi == "n_cycles":
            return float(self.min_cycles)
        raise KeyError(f"no threshold for {sqi!r}")


class DatasetWindows(Section):
    """What one dataset's windows hold: channels in order, gates applied, labels copied."""

    channels: list[str]
    stride: PositiveInt
    gates: list[Gate]
    invert: list[str] = Field(default_factory=list)
    case_labels: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> DatasetWindows:
        if len(set(self.channels)) != len(self.channels) or not self.channels:
            raise ValueError(f"channels must be distinct and non-empty, got {self.channels}")
        extra = sorted(set(self.invert) - set(self.channels))
        if extra:
            raise ValueError(f"invert names {extra}, which are not in channels")
        needs = {g: GATE_CHANNELS[g] for g in self.gates if g in GATE_CHANNELS}
        missing = {g: c for g, c in needs.items() if c not in self.channels}
        if missing:
            raise ValueError(
                f"gates {sorted(missing)} need channels "
                f"{sorted(set(missing.values()))}, which are not in channels"
            )
        return self


def _default_gates() -> list[str]:
    return ["gap", "flatline", "clipping", "bp", "hr", "cycles", "ecg_sqi", "ppg_tsqi"]


class WindowsParams(Section):
    """Resampling, filtering, windowing, quality gates and labels (spec 000)."""

    fs: Annotated[float, Field(gt=0)] = 125.0
    length: Annotated[int, Field(ge=16)] = 1024
    workers: PositiveInt = 2
    shard_windows: PositiveInt = 256
    chunk_windows: PositiveInt = 32
    filters: dict[str, FilterParams] = Field(
        default_factory=lambda: {
            "PPG": FilterParams(kind="butter", order=4, band=(0.5, 8.0)),
            "ECG": FilterParams(kind="butter", order=4, band=(0.5, 40.0)),
            "ABP": FilterParams(kind="butter", order=4, band=(None, 20.0)),
            **{
                axis: FilterParams(kind="butter", order=4, band=(None, 20.0))
                for axis in ("ACC_X", "ACC_Y", "ACC_Z")
            },
        }
    )
    quality: QualityParams = QualityParams()
    hypotension_mmhg: Annotated[float, Field(gt=0)] = 65.0
    label_horizon_s: Annotated[float, Field(ge=0)] = 0.0
    # hypotension forecast (ttmbio/windows/labels.py): an event starts within this horizon
    forecast_horizon_min: Annotated[float, Field(gt=0)] = 5.0
    event_min_s: Annotated[float, Field(gt=0)] = 60.0
    vitaldb: DatasetWindows = DatasetWindows(
        channels=["PPG", "ECG", "ABP"],
        stride=1024,
        gates=_default_gates(),
        case_labels=["age", "sex", "asa"],
    )
    butppg: DatasetWindows = DatasetWindows(
        channels=["ACC_X", "ACC_Y", "ACC_Z", "PPG", "ECG"],
        stride=226,
        gates=["gap", "flatline"],
        invert=["PPG"],
        case_labels=["quality", "hr"],
    )

    @model_validator(mode="after")
    def _consistent(self) -> WindowsParams:
        nyquist = self.fs / 2
        for channel, spec in self.filters.items():
            high = max(e for e in spec.band if e is not None)
            if high >= nyquist:
                raise ValueError(
                    f"filters.{channel}.band edge {high} Hz must be below the "
                    f"Nyquist frequency fs/2 = {nyquist:g} Hz"
                )
        unknown = sorted(set(self.butppg.channels) - set(BUTPPG_CHANNELS))
        if unknown:
            raise ValueError(
                f"butppg.channels {unknown} are not BUT-PPG channels {list(BUTPPG_CHANNELS)}"
            )
        for dataset in ("vitaldb", "butppg"):
            cfg: DatasetWindows = getattr(self, dataset)
            unfiltered = sorted(set(cfg.channels) - set(self.filters))
            if unfiltered:
                raise ValueError(f"{dataset}.channels {unfiltered} have no entry in filters")
        if self.chunk_windows > self.shard_windows or self.shard_windows % self.chunk_windows:
            raise ValueError(
                f"shard_windows ({self.shard_windows}) must be a multiple of "
                f"chunk_windows ({self.chunk_windows})"
            )
        return self


# --------------------------------------------------------------------------- model


class ModelParams(Section):
    """The TTM encoder, the one source of truth for shapes (design contract 1).

    ``context_length`` must equal ``windows.length``; the encoder, decoder, masking and STFT
    losses are all built from this object, and a pretrained checkpoint must agree with it.
    """

    channels: list[str] = Field(default_factory=lambda: ["PPG", "ECG"])
    context_length: Annotated[int, Field(ge=16)] = 1024
    patch_length: Annotated[int, Field(ge=2)] = 64
    d_model: Annotated[int, Field(ge=4)] = 64
    num_layers: Annotated[int, Field(ge=1, le=16)] = 4
    expansion_factor: Annotated[int, Field(ge=1, le=8)] = 2
    adaptive_patching_levels: Annotated[int, Field(ge=0, le=4)] = 0
    mode: Literal["common_channel", "mix_channel"] = "common_channel"
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    scale_embedding: bool = False
    pretrained: str | None = None
    revision: str | None = None

    @property
    def n_patches(self) -> int:
        return self.context_length // self.patch_length

    @model_validator(mode="after")
    def _shapes(self) -> ModelParams:
        if len(set(self.channels)) != len(self.channels) or not self.channels:
            raise ValueError(f"channels must be distinct and non-empty, got {self.channels}")
        if self.context_length % self.patch_length:
            raise ValueError(
                f"patch_length ({self.patch_length}) must divide context_length "
                f"({self.context_length})"
            )
        levels = 2**self.adaptive_patching_levels
        if self.n_patches % levels or self.patch_length % levels:
            raise ValueError(
                f"adaptive_patching_levels={self.adaptive_patching_levels} needs the patch "
                f"count ({self.n_patches}) and patch_length to be divisible by {levels}"
            )
        return self


class STFTResolutionParams(Section):
    n_fft: Annotated[int, Field(ge=4)]
    hop_length: Annotated[int, Field(ge=1)]


class PretrainParams(Section):
    """Masked signal modeling on TTM (spec 001)."""

    seed: int = 42
    epochs: Annotated[int, Field(ge=1)] = 12
    batch_size: Annotated[int, Field(ge=1)] = 64
    lr: Annotated[float, Field(gt=0)] = 3e-3
    weight_decay: Annotated[float, Field(ge=0)] = 0.01
    warmup_epochs: Annotated[float, Field(ge=0)] = 1.0
    grad_clip: Annotated[float, Field(gt=0)] = 1.0
    mask_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.4
    mask_kind: Literal["random", "block"] = "random"
    block_patches: Annotated[int, Field(ge=1)] = 3
    mask_shared_channels: bool = True
    stft_weight: Annotated[float, Field(ge=0)] = 0.3
    stft_resolutions: list[STFTResolutionParams] = Field(
        default_factory=lambda: [
            STFTResolutionParams(n_fft=256, hop_length=64),
            STFTResolutionParams(n_fft=512, hop_length=128),
        ]
    )
    stft_eps: Annotated[float, Field(gt=0)] = 1.0
    spectrum_weight: Annotated[float, Field(ge=0)] = 0.3
    spectrum_bands: Annotated[int, Field(ge=2)] = 24
    spectrum_low_hz: Annotated[float, Field(gt=0)] = 0.5
    spectrum_eps: Annotated[float, Field(gt=0)] = 0.1
    decoder_hidden: Annotated[int, Field(ge=1)] = 128
    checkpoint_every: Annotated[int, Field(ge=1)] = 4
    probe_tasks: list[str] = Field(
        default_factory=lambda: ["vitaldb_hypotension", "vitaldb_map", "vitaldb_hr"]
    )
    amp: Literal["auto", "off"] = "auto"
    resume: bool = True

    @model_validator(mode="after")
    def _resolutions(self) -> PretrainParams:
        if self.warmup_epochs >= self.epochs:
            raise ValueError(
                f"warmup_epochs ({self.warmup_epochs}) must be below epochs ({self.epochs})"
            )
        for r in self.stft_resolutions:
            if r.hop_length > r.n_fft:
                raise ValueError(
                    f"stft_resolutions hop_length {r.hop_length} must be <= n_fft {r.n_fft}"
                )
        return self


# --------------------------------------------------------------------------- finetune


class TaskSpec(Section):
    """A downstream task: which windows, which channels, which per-window target."""

    dataset: Literal["vitaldb", "butppg"]
    channels: list[str]
    target: str
    kind: Literal["binary", "regression"]


TASKS: dict[str, TaskSpec] = {
    "butppg_quality": TaskSpec(
        dataset="butppg",
        channels=["ACC_X", "ACC_Y", "ACC_Z", "PPG", "ECG"],
        target="case_quality",
        kind="binary",
    ),
    "vitaldb_hypotension": TaskSpec(
        dataset="vitaldb", channels=["PPG", "ECG"], target="hypotension", kind="binary"
    ),
    # a hypotensive event (MAP < 65 mmHg for >= 60 s) starts within windows.forecast_horizon_min
    "vitaldb_hypotension_forecast": TaskSpec(
        dataset="vitaldb", channels=["PPG", "ECG"], target="hypotension_forecast", kind="binary"
    ),
    "vitaldb_map": TaskSpec(
        dataset="vitaldb", channels=["PPG", "ECG"], target="map_mmhg", kind="regression"
    ),
    "vitaldb_hr": TaskSpec(
        dataset="vitaldb", channels=["PPG", "ECG"], target="hr_bpm", kind="regression"
    ),
}


def binary_tasks() -> list[str]:
    """Names of the classification tasks, for messages that list what would work."""
    return sorted(name for name, spec in TASKS.items() if spec.kind == "binary")


class HeadParams(Section):
    pooling: Literal["mean_concat", "mean_mean"] = "mean_concat"
    hidden_dims: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [64])
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.1
    activation: Literal["gelu", "relu"] = "gelu"
    norm: Literal["none", "batch"] = "none"


class LoraParams(Section):
    enabled: bool = False
    r: Annotated[int, Field(ge=1)] = 2
    alpha: Annotated[int, Field(ge=1)] = 4
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    target_modules: list[str] = Field(default_factory=lambda: ["fc1"])


class FinetuneParams(Section):
    """Downstream training (spec 003 staged schedule; spec 000 FM/FT modes and LoRA)."""

    task: str = "butppg_quality"
    init: Literal["pretrained", "scratch"] = "pretrained"
    mode: Literal["fm", "ft"] = "ft"
    label_fraction: Annotated[float, Field(gt=0, le=1)] = 1.0
    seed: int = 42
    # the DVC matrix: every init x fraction x seed is one run, <init>-<fraction>-seed<seed>
    fractions: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=lambda: [0.1, 1.0], min_length=1
    )
    seeds: list[int] = Field(default_factory=lambda: [42], min_length=1)
    batch_size: Annotated[int, Field(ge=1)] = 32
    lr: Annotated[float, Field(gt=0)] = 1e-3
    weight_decay: Annotated[float, Field(ge=0)] = 0.01
    head_epochs: Annotated[int, Field(ge=1)] = 4
    unfreeze_epochs: Annotated[int, Field(ge=0)] = 8
    unfreeze_last_n: Annotated[int, Field(ge=1)] = 2
    full_epochs: Annotated[int, Field(ge=0)] = 0
    patience: Annotated[int, Field(ge=1)] = 5
    # no early stop before this many epochs: every init gets at least the same budget
    min_epochs: Annotated[int, Field(ge=0)] = 8
    grad_clip: Annotated[float, Field(gt=0)] = 1.0
    class_balance: Literal["weights", "none"] = "weights"
    inflation_noise: Annotated[float, Field(ge=0)] = 0.01
    head: HeadParams = HeadParams()
    lora: LoraParams = LoraParams()

    @property
    def spec(self) -> TaskSpec:
        return TASKS[self.task]

    @model_validator(mode="after")
    def _task(self) -> FinetuneParams:
        if self.task not in TASKS:
            raise ValueError(f"task={self.task!r} is not one of {sorted(TASKS)}")
        for name in ("seeds", "fractions"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name}={values} repeats a value; list each once")
        if self.lora.enabled and self.mode == "fm":
            raise ValueError(
                "lora.enabled=true trains adapters inside the encoder, which mode=fm keeps "
                "frozen; set mode=ft (or lora.enabled=false)"
            )
        return self


# --------------------------------------------------------------------------- calibrate


class CalibrateParams(Section):
    """Post-hoc calibration of a fine-tuned classifier, fitted on val predictions only."""

    model: str = "pretrained-1.0-seed42"  # a fine-tuning run: <init>-<fraction>-seed<seed>
    method: Literal["temperature", "platt", "isotonic"] = "temperature"
    n_bins: Annotated[int, Field(ge=2, le=100)] = 15


class EvaluateParams(Section):
    """Test-split evaluation of the calibrated model chosen in ``calibrate.model``."""

    bootstrap: Annotated[int, Field(ge=10)] = 1000
    # the independent unit a bootstrap resamples: auto = recordings for BUT-PPG, subjects for
    # VitalDB (a subject's cases share physiology); window only to show how narrow that is
    bootstrap_unit: Literal["auto", "recording", "subject", "window"] = "auto"
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95
    voting: Literal["soft", "hard"] = "soft"
    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    seed: int = 42


# --------------------------------------------------------------------------- baseline


class LogisticBaseline(Section):
    """L2 logistic regression on standardised features (median-imputed)."""

    C: Annotated[float, Field(gt=0)] = 1.0
    max_iter: PositiveInt = 2000


class GBMBaseline(Section):
    """scikit-learn's histogram gradient boosting (missing values handled natively)."""

    max_iter: PositiveInt = 200
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 0.05
    max_leaf_nodes: Annotated[int, Field(ge=2)] = 15
    min_samples_leaf: PositiveInt = 20
    l2_regularization: Annotated[float, Field(ge=0)] = 1.0


class BaselineParams(Section):
    """Classical baseline beside every fine-tuned result (``ttmbio baseline``): hand-crafted
    features of the task's channels and a scikit-learn classifier, trained on the same label
    subset, calibrated and scored like the model."""

    # auto: fit both, keep the one with the higher val AUROC (ties: logistic)
    model: Literal["auto", "logistic", "gbm"] = "auto"
    class_weight: Literal["balanced", "none"] = "balanced"  # as finetune.class_balance
    importance_repeats: PositiveInt = 5  # permutation importance on val (gbm)
    logistic: LogisticBaseline = LogisticBaseline()
    gbm: GBMBaseline = GBMBaseline()


# --------------------------------------------------------------------------- forecast


class GlucoseSynthParams(Section):
    """Virtual type-1 diabetes patients simulated with simglucose (UVA/Padova 2008 model)."""

    seed: int = 42
    n_patients: Annotated[int, Field(ge=3, le=30)] = 30  # simglucose has 30 virtual patients
    days: Annotated[float, Field(gt=0, le=60)] = 5.0
    sample_min: PositiveInt = 5  # CGM resolution
    gaps_per_day: Annotated[float, Field(ge=0)] = 0.5  # sensor dropouts (NaN runs)
    gap_minutes: tuple[float, float] = (15.0, 90.0)
    workers: PositiveInt = 2

    @model_validator(mode="after")
    def _gap(self) -> GlucoseSynthParams:
        low, high = self.gap_minutes
        if not 0 < low <= high:
            raise ValueError(
                f"gap_minutes must be [low, high] with 0 < low <= high, got {low, high}"
            )
        return self


class ForecastModelConfig(Section):
    """The forecaster (spec 002's TTMConfig): TTM shapes, features, preprocessing, training."""

    context_length: Annotated[int, Field(ge=16)] = 512
    forecast_length: PositiveInt = 96
    patch_length: PositiveInt = 16
    d_model: PositiveInt = 64
    num_layers: PositiveInt = 3
    dropout: Fraction = 0.1
    target: str = "bg_mM"
    inputs: list[str] = Field(default_factory=lambda: ["cob", "iob", "dose_units"])
    id_column: str = "p_num"
    timestamp_column: str = "datetime"
    resolution_min: PositiveInt = 5
    scaler: Literal["standard", "minmax", "robust"] = "standard"
    imputation: Literal["mean", "median", "forward_fill"] = "forward_fill"
    max_nan_fraction: Fraction = 0.3  # a patient's column with more missing is unusable
    learning_rate: Annotated[float, Field(gt=0)] = 1e-3
    epochs: Annotated[int, Field(ge=0)] = 10
    batch_size: PositiveInt = 64
    train_stride: PositiveInt = 6  # steps between training (and val) windows
    freeze_backbone: bool = False
    model_path: str | None = None  # a saved TTM folder (or a hub id, online) to start from
    logging_dir: Path | None = None  # TensorBoard logs of the HF Trainer; null = none
    seed: int = 42

    @model_validator(mode="after")
    def _shapes(self) -> ForecastModelConfig:
        if self.context_length % self.patch_length:
            raise ValueError(
                f"context_length ({self.context_length}) must be a multiple of patch_length "
                f"({self.patch_length})"
            )
        if self.target in self.inputs:
            raise ValueError(f"target {self.target!r} must not also be listed in inputs")
        return self


class ForecastSplitParams(Section):
    """Patient-level splits; held-out patients are split in time for personalisation."""

    seed: int = 42
    ratios: dict[str, Fraction] = Field(
        default_factory=lambda: {"train": 0.6, "val": 0.2, "test": 0.2}
    )
    adapt_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.5  # of each test patient's series

    @model_validator(mode="after")
    def _sum(self) -> ForecastSplitParams:
        check_split_ratios(self.ratios)
        return self


class ForecastParams(Section):
    """Glucose forecasting (spec 002): data, model, splits, fine-tuning and evaluation."""

    data: GlucoseSynthParams = GlucoseSynthParams()
    model: ForecastModelConfig = ForecastModelConfig()
    splits: ForecastSplitParams = ForecastSplitParams()
    finetune_epochs: Annotated[int, Field(ge=1)] = 5
    finetune_learning_rate: Annotated[float, Field(gt=0)] = 3e-4
    horizons_min: list[PositiveInt] = Field(default_factory=lambda: [30, 60])
    eval_stride: PositiveInt = 6  # steps between evaluated forecast origins

    @model_validator(mode="after")
    def _horizons(self) -> ForecastParams:
        full = self.model.forecast_length * self.model.resolution_min
        too_long = [h for h in self.horizons_min if h > full or h % self.model.resolution_min]
        if too_long:
            raise ValueError(
                f"horizons_min {too_long} must be multiples of resolution_min "
                f"({self.model.resolution_min}) within the forecast ({full} min)"
            )
        return self


# --------------------------------------------------------------------------- root


class Params(BaseSettings):
    """All of ``params.yaml``; one attribute per section."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    data: DataParams = DataParams()
    synth: SynthParams = SynthParams()
    splits: SplitsParams = SplitsParams()
    windows: WindowsParams = WindowsParams()
    model: ModelParams = ModelParams()
    pretrain: PretrainParams = PretrainParams()
    finetune: FinetuneParams = FinetuneParams()
    calibrate: CalibrateParams = CalibrateParams()
    evaluate: EvaluateParams = EvaluateParams()
    baseline: BaselineParams = BaselineParams()
    forecast: ForecastParams = ForecastParams()

    @model_validator(mode="after")
    def _cross_section(self) -> Params:
        if self.model.context_length != self.windows.length:
            raise ValueError(
                f"model.context_length ({self.model.context_length}) must equal windows.length "
                f"({self.windows.length}): the encoder reads whole windows"
            )
        missing = sorted(set(self.model.channels) - set(self.windows.vitaldb.channels))
        if missing:
            raise ValueError(
                f"model.channels {missing} are not in windows.vitaldb.channels "
                f"{self.windows.vitaldb.channels}, which pretraining reads"
            )
        task = self.finetune.spec
        stored = getattr(self.windows, task.dataset).channels
        if not set(task.channels) <= set(stored):
            raise ValueError(
                f"finetune.task={self.finetune.task!r} needs channels {task.channels}, but "
                f"windows.{task.dataset}.channels is {stored}"
            )
        for r in self.pretrain.stft_resolutions:
            if r.n_fft > self.model.context_length:
                raise ValueError(
                    f"pretrain.stft_resolutions n_fft={r.n_fft} is larger than the window "
                    f"(model.context_length={self.model.context_length}); use n_fft <= "
                    f"{self.model.context_length}"
                )
        for name in self.pretrain.probe_tasks:
            spec = TASKS.get(name)
            if spec is None or spec.dataset != "vitaldb":
                known = sorted(k for k, v in TASKS.items() if v.dataset == "vitaldb")
                raise ValueError(
                    f"pretrain.probe_tasks has {name!r}; probes read the pretraining windows, "
                    f"so use VitalDB tasks: {known}"
                )
        if self.pretrain.spectrum_low_hz >= self.windows.fs / 2:
            raise ValueError(
                f"pretrain.spectrum_low_hz ({self.pretrain.spectrum_low_hz}) must be below the "
                f"Nyquist frequency windows.fs/2 = {self.windows.fs / 2:g} Hz"
            )
        unknown = sorted(set(self.windows.vitaldb.channels) - set(self.data.vitaldb.tracks))
        if unknown:
            raise ValueError(
                f"windows.vitaldb.channels {unknown} are not channels of "
                f"data.vitaldb.tracks (known: {sorted(self.data.vitaldb.tracks)})"
            )
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
