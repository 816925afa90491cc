"""The windows section: resampling, filters, quality gates and labels, per dataset."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    PositiveInt,
    model_validator,
)

from ttmbio.params.common import Fraction, Section

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
    # peaks are detected per segment of this many seconds (plus context), so a window's beats
    # do not depend on the recording's length; recordings are worked through in blocks of
    # block_s (a multiple of it; null = whole), which bounds memory and changes no output
    peak_segment_s: Annotated[float, Field(ge=60)] = 1800.0
    block_s: Annotated[float, Field(gt=0)] | None = 1800.0
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
    bidmc: DatasetWindows = DatasetWindows(
        channels=["PPG", "ECG"],
        stride=1024,
        gates=["gap", "flatline", "clipping", "hr", "cycles", "ecg_sqi", "ppg_tsqi"],
        case_labels=["age", "sex"],
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
        if self.block_s is not None:
            ratio = self.block_s / self.peak_segment_s
            if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
                raise ValueError(
                    f"block_s ({self.block_s:g}) must be a multiple of peak_segment_s "
                    f"({self.peak_segment_s:g}), or null to process recordings whole"
                )
        if self.chunk_windows > self.shard_windows or self.shard_windows % self.chunk_windows:
            raise ValueError(
                f"shard_windows ({self.shard_windows}) must be a multiple of "
                f"chunk_windows ({self.chunk_windows})"
            )
        return self

    @classmethod
    def datasets(cls) -> list[str]:
        """The datasets with a windows section (each field of type :class:`DatasetWindows`)."""
        return [n for n, f in cls.model_fields.items() if f.annotation is DatasetWindows]

    def dataset(self, name: str) -> DatasetWindows:
        """The windows section of dataset ``name``."""
        return getattr(self, name)
