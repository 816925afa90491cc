"""Post-hoc calibration maps for binary classifiers and their fits (the metrics that judge
them are in :mod:`ttmbio.calibration.metrics`).

A calibrator maps the model's probability of class 1 to a calibrated probability. It is
fitted on validation predictions only (the caller's job) and applied unchanged to test
predictions. Three methods (spec 000, "Calibration Methods"):

- ``temperature``: ``p' = sigmoid(logit(p) / T)``; one parameter, keeps the ranking.
- ``platt``: ``p' = sigmoid(a * logit(p) + b)``; logistic regression on the logit.
- ``isotonic``: a monotone non-decreasing map fitted by PAVA, interpolated between its knots.

Fitted parameters are plain JSON numbers (``Calibrator.to_json``/``from_json``) so a fitted
calibrator is a small reviewable file, never a pickle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

import numpy as np
from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from scipy.optimize import minimize_scalar
from scipy.special import expit
from scipy.special import logit as _logit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from ttmbio.calibration.metrics import (
    EPS,
    as_probs,
    calibration_report,
    check_pair,
    reliability_curves,
)
from ttmbio.errors import ConfigError, validation_reason
from ttmbio.params import CalibrateParams

Method = Literal["temperature", "platt", "isotonic"]
METHODS: tuple[str, ...] = get_args(Method)

#: search interval for log T: T in [e^-5, e^5] ~ [0.0067, 148] covers any sane network
_LOG_T_BOUNDS = (-5.0, 5.0)
#: "effectively unregularised" logistic regression for Platt scaling
_PLATT_C = 1e12

#: written into every calibrator file; a file of another format is refused with one line
CALIBRATOR_FORMAT = "ttmbio-calibrator/1"


# --------------------------------------------------------------------------- logits


def _to_logit(p: np.ndarray) -> np.ndarray:
    """Logit of clipped probabilities, so saturated scores do not become +-inf."""
    return _logit(np.clip(p, EPS, 1.0 - EPS))


# --------------------------------------------------------------------------- params schema

#: a finite JSON number; bools and numeric strings are refused rather than coerced
Number = Annotated[float, Strict(), AllowInfNan(False)]
Probability = Annotated[Number, Field(ge=0.0, le=1.0)]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TemperatureParams(_Params):
    temperature: Annotated[Number, Field(gt=0.0)]


class PlattParams(_Params):
    a: Number
    b: Number


class IsotonicParams(_Params):
    """Knots of a monotone piecewise-linear map on [0, 1]."""

    x: Annotated[list[Probability], Field(min_length=1)]
    y: Annotated[list[Probability], Field(min_length=1)]

    @model_validator(mode="after")
    def _monotone(self) -> IsotonicParams:
        if len(self.x) != len(self.y):
            raise ValueError(f"x and y must have the same length ({len(self.x)} != {len(self.y)})")
        if np.any(np.diff(self.x) < 0) or np.any(np.diff(self.y) < 0):
            raise ValueError("knots x and y must both be non-decreasing")
        return self


class _TemperatureSpec(BaseModel):
    method: Literal["temperature"]
    params: TemperatureParams


class _PlattSpec(BaseModel):
    method: Literal["platt"]
    params: PlattParams


class _IsotonicSpec(BaseModel):
    method: Literal["isotonic"]
    params: IsotonicParams


#: method + params of a calibrator file, told apart by ``method`` (a discriminated union)
CalibratorSpec = TypeAdapter(
    Annotated[_TemperatureSpec | _PlattSpec | _IsotonicSpec, Field(discriminator="method")]
)


def _one_line(err: ValidationError, method: Any) -> str:
    first = err.errors()[0]
    if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return f"unknown calibration method {method!r}; expected one of {list(METHODS)}"
    loc = ".".join(str(p) for p in first["loc"][1:])  # drop the union tag
    return f"calibrator {method!r}: {loc}: {validation_reason(first)}"


def _validate_params(method: Any, params: Any) -> dict[str, Any]:
    """Normalised copy of ``params`` (plain floats) or a one-line ConfigError."""
    try:
        spec = CalibratorSpec.validate_python({"method": method, "params": params})
    except ValidationError as err:
        raise ConfigError(_one_line(err, method)) from None
    return spec.params.model_dump()


# --------------------------------------------------------------------------- calibrator


@dataclass(frozen=True)
class Calibrator:
    """A fitted calibration map; ``params`` are JSON numbers only (see module docstring)."""

    method: Method
    params: dict[str, Any]

    def __post_init__(self) -> None:
        # validate on construction so a hand-built or loaded calibrator cannot fail at apply time
        object.__setattr__(self, "params", _validate_params(self.method, self.params))

    def apply(self, probs: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of class 1, same shape as ``probs``."""
        p = as_probs(probs)
        if self.method == "temperature":
            return expit(_to_logit(p) / self.params["temperature"])
        if self.method == "platt":
            return expit(self.params["a"] * _to_logit(p) + self.params["b"])
        # np.interp holds the end values outside the knots, like out_of_bounds="clip"
        out = np.interp(p, self.params["x"], self.params["y"])
        return np.clip(out, 0.0, 1.0)

    def to_json(self) -> dict[str, Any]:
        """``{"format", "method", "params"}``; floats round-trip exactly through json."""
        params = {k: list(v) if isinstance(v, list) else v for k, v in self.params.items()}
        return {"format": CALIBRATOR_FORMAT, "method": self.method, "params": params}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Calibrator:
        """Inverse of ``to_json``; ConfigError (one line) for anything malformed.

        Other top-level keys (metadata such as the model a calibrator belongs to) are ignored;
        ``method`` and ``params`` are validated strictly (:data:`CalibratorSpec`), unknown
        param keys included. A file of another ``format`` is refused; one without the key
        was written before formats were recorded, with the same schema, and is read.
        """
        if not isinstance(doc, dict):
            raise ConfigError(f"calibrator must be a JSON object, got {type(doc).__name__}")
        found = doc.get("format", CALIBRATOR_FORMAT)
        if found != CALIBRATOR_FORMAT:
            raise ConfigError(
                f"calibrator format {found!r} is not {CALIBRATOR_FORMAT!r} (written by another "
                "version of ttmbio); re-run `ttmbio calibrate`"
            )
        missing = [k for k in ("method", "params") if k not in doc]
        if missing:
            raise ConfigError(f"calibrator JSON is missing {missing}; expected method and params")
        return cls(method=doc["method"], params=doc["params"])


# --------------------------------------------------------------------------- fitting


def _fit_temperature(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """T minimising the NLL of sigmoid(z / T).

    Uses ``scipy.optimize.minimize_scalar(method="bounded")`` on log T: a 1-D convex-ish
    problem needs no gradient machinery, log T keeps T > 0, and the result is deterministic.
    """
    z = _to_logit(p)
    sign = 2.0 * y - 1.0

    def loss(log_t: float) -> float:
        # BCE(sigmoid(s), y) = log(1 + exp(-sign * s)), evaluated without overflow
        return float(np.mean(np.logaddexp(0.0, -sign * z / math.exp(log_t))))

    res = minimize_scalar(loss, bounds=_LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-8})
    if not res.success:
        raise ValueError(f"temperature scaling did not converge: {res.message}")
    return {"temperature": float(math.exp(res.x))}


def _fit_platt(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """(a, b) of an effectively unregularised logistic regression on the logit."""
    model = LogisticRegression(C=_PLATT_C, tol=1e-10, max_iter=1000)
    model.fit(_to_logit(p).reshape(-1, 1), y)
    return {"a": float(model.coef_[0, 0]), "b": float(model.intercept_[0])}


def _fit_isotonic(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Knots of sklearn's isotonic fit; np.interp over them reproduces its predict()."""
    model = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0, increasing=True)
    model.fit(p, y.astype(np.float64))
    return {
        "x": [float(v) for v in model.X_thresholds_],
        "y": [float(v) for v in model.y_thresholds_],
    }


_FITTERS = {"temperature": _fit_temperature, "platt": _fit_platt, "isotonic": _fit_isotonic}


def fit_calibrator(probs: np.ndarray, labels: np.ndarray, method: Method) -> Calibrator:
    """Fit ``method`` on VALIDATION predictions (never test: that would leak the labels)."""
    if method not in METHODS:
        raise ConfigError(f"unknown calibration method {method!r}; expected one of {list(METHODS)}")
    p, y = check_pair(probs, labels)
    if np.unique(y).size < 2:
        raise ValueError(
            f"cannot fit a calibrator: labels contain only class {int(y[0])} "
            f"({y.size} samples); the validation split needs both classes"
        )
    return Calibrator(method=method, params=_FITTERS[method](p, y))


IDENTITY = Calibrator("temperature", {"temperature": 1.0})


def fit_on_val(
    cfg: CalibrateParams, probs: np.ndarray, labels: np.ndarray
) -> tuple[Calibrator, dict[str, Any], dict[str, Any]]:
    """Fit on val probabilities; keep the identity if the fit would make val ECE worse."""
    fitted = fit_calibrator(probs, labels, cfg.method)
    before = calibration_report(probs, labels, cfg.n_bins)
    after = calibration_report(fitted.apply(probs), labels, cfg.n_bins)
    kept = fitted if after["ece"] <= before["ece"] else IDENTITY
    if kept is IDENTITY:
        after = before
    metrics = {
        "method": cfg.method,
        "applied": kept.method if kept is fitted else "identity",
        "val_windows": len(labels),
        "val_before": before,
        "val_after": after,
    }
    curves = reliability_curves(probs, kept.apply(probs), labels, cfg.n_bins)
    return kept, metrics, curves
