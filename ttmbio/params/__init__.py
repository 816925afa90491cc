"""Typed, validated view of ``params.yaml`` (read through pydantic-settings).

Every stage loads the whole file through :func:`load_params` before doing any work, so a
typo (``dvc exp run -S splits.sed=7``) or an impossible combination is refused up front with
one line naming the param, its value and what is allowed. Defaults here mirror the committed
``params.yaml``; DVC tracks the file, so the file stays the single source of truth.

One module per group of sections: ``data`` (data, synth, splits), ``windows``, ``model``
(model, pretrain), ``finetune`` (and the task registry ``TASKS``), ``evaluation`` (calibrate,
evaluate, baseline), ``forecast``; ``root`` holds :class:`Params` and :func:`load_params`.
Everything is importable from ``ttmbio.params`` itself.
"""

from __future__ import annotations

from ttmbio.params.common import SPLIT_NAMES, Fraction, Section
from ttmbio.params.data import (
    BUTPPG_CHANNELS,
    BidmcData,
    ButPPGData,
    DataParams,
    DatasetSplit,
    SplitsParams,
    SynthButPPG,
    SynthParams,
    SynthVitalDB,
    VitalDBData,
    VitalDBSplit,
    check_split_ratios,
)
from ttmbio.params.evaluation import (
    BaselineParams,
    CalibrateParams,
    EvaluateParams,
    GBMBaseline,
    LogisticBaseline,
)
from ttmbio.params.finetune import (
    TASKS,
    FinetuneParams,
    HeadParams,
    LoraParams,
    TaskSpec,
    binary_tasks,
)
from ttmbio.params.forecast import (
    ForecastModelConfig,
    ForecastParams,
    ForecastSplitParams,
    GlucoseSynthParams,
)
from ttmbio.params.model import ModelParams, PretrainParams, STFTResolutionParams
from ttmbio.params.root import DEFAULT_PARAMS_PATH, Params, load_params
from ttmbio.params.windows import (
    GATE_CHANNELS,
    DatasetWindows,
    ECGDetector,
    FilterParams,
    Gate,
    QualityParams,
    WindowsParams,
)

__all__ = [
    "BUTPPG_CHANNELS",
    "DEFAULT_PARAMS_PATH",
    "GATE_CHANNELS",
    "SPLIT_NAMES",
    "TASKS",
    "BaselineParams",
    "BidmcData",
    "ButPPGData",
    "CalibrateParams",
    "DataParams",
    "DatasetSplit",
    "DatasetWindows",
    "ECGDetector",
    "EvaluateParams",
    "FilterParams",
    "FinetuneParams",
    "ForecastModelConfig",
    "ForecastParams",
    "ForecastSplitParams",
    "Fraction",
    "GBMBaseline",
    "Gate",
    "GlucoseSynthParams",
    "HeadParams",
    "LogisticBaseline",
    "LoraParams",
    "ModelParams",
    "Params",
    "PretrainParams",
    "QualityParams",
    "STFTResolutionParams",
    "Section",
    "SplitsParams",
    "SynthButPPG",
    "SynthParams",
    "SynthVitalDB",
    "TaskSpec",
    "VitalDBData",
    "VitalDBSplit",
    "WindowsParams",
    "binary_tasks",
    "check_split_ratios",
    "load_params",
]
