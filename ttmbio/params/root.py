"""Params, the whole of params.yaml, and load_params: validation before any work starts."""

from __future__ import annotations

import contextvars
from pathlib import Path
from typing import Any

from pydantic import (
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from ttmbio.errors import ConfigError, first_line, validation_reason
from ttmbio.params.data import DataParams, SplitsParams, SynthParams
from ttmbio.params.evaluation import BaselineParams, CalibrateParams, EvaluateParams
from ttmbio.params.finetune import TASKS, FinetuneParams
from ttmbio.params.forecast import ForecastParams
from ttmbio.params.model import ModelParams, PretrainParams
from ttmbio.params.windows import WindowsParams

DEFAULT_PARAMS_PATH = Path("params.yaml")
_params_path: contextvars.ContextVar[Path] = contextvars.ContextVar(
    "params_path", default=DEFAULT_PARAMS_PATH
)

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
        self._check_datasets()  # first: the checks below assume known, filtered channels
        missing = sorted(set(self.model.channels) - set(self.windows.vitaldb.channels))
        if missing:
            raise ValueError(
                f"model.channels {missing} are not in windows.vitaldb.channels "
                f"{self.windows.vitaldb.channels}, which pretraining reads"
            )
        task = self.finetune.spec
        if task.dataset not in self.data.datasets:
            raise ValueError(
                f"finetune.task={self.finetune.task!r} reads dataset {task.dataset!r}, which "
                f"data.datasets {self.data.datasets} does not list; add it there"
            )
        stored = self.windows.dataset(task.dataset).channels
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
        case_set = self.splits.vitaldb.case_set
        if case_set not in self.data.vitaldb.case_sets:
            raise ValueError(
                f"splits.vitaldb.case_set={case_set!r} is not a key of data.vitaldb.case_sets "
                f"(known: {sorted(self.data.vitaldb.case_sets)})"
            )
        return self

    def _check_datasets(self) -> None:
        """Each dataset read has its windows and splits sections, with channels it can give;
        VitalDB is always read: pretraining learns from its windows."""
        if "vitaldb" not in self.data.datasets:
            raise ValueError(
                f"data.datasets {self.data.datasets} must list vitaldb: pretraining reads "
                "its windows"
            )
        for name in self.data.datasets:
            if name not in self.windows.datasets() or name not in type(self.splits).model_fields:
                raise ValueError(
                    f"data.datasets lists {name!r}, which has no windows.{name} or "
                    f"splits.{name} section; add them"
                )
            known = self.data.dataset(name).channels
            channels = self.windows.dataset(name).channels
            unknown = sorted(set(channels) - set(known))
            if unknown:
                raise ValueError(
                    f"windows.{name}.channels {unknown} are not channels of data.{name} "
                    f"(known: {sorted(known)})"
                )
            unfiltered = sorted(set(channels) - set(self.windows.filters))
            if unfiltered:
                raise ValueError(
                    f"windows.{name}.channels {unfiltered} have no entry in windows.filters; "
                    "add one (e.g. {kind: butter, order: 4, band: [0.5, 8.0]})"
                )

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
    msg = validation_reason(error)
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
        first = first_line(err, limit=10_000)
        raise ConfigError(f"{path}: cannot be read ({first}); fix the YAML syntax") from None
    finally:
        _params_path.reset(token)
