"""A fine-tuned run's calibrator file: fitted on its val predictions, tied to its weights.

The predictions are those the fine-tuning run wrote (``ttmbio.run_scores``): no model load.

Only val predictions are used (test stays untouched for evaluation). If the fitted calibrator
would make val ECE worse -- possible for a model that is already well calibrated, with few
val windows -- the identity (temperature 1) is kept instead and the report says so, so
calibration never makes val ECE worse.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ttmbio.calibration.calibrator import Calibrator, fit_on_val
from ttmbio.errors import ConfigError, SourceError
from ttmbio.finetune.summary import read_run_summary
from ttmbio.params import CalibrateParams, binary_tasks
from ttmbio.run_scores import model_digest, read_run_scores


def calibrate(
    cfg: CalibrateParams, model_dir: Path
) -> tuple[Calibrator, dict[str, Any], dict[str, Any]]:
    """Return (calibrator, metrics, reliability curves before/after) for ``model_dir``, from
    the val scores its fine-tuning run wrote."""
    kind = read_run_summary(model_dir).kind
    if kind != "binary":
        raise ConfigError(
            f"{model_dir}: calibrate.model is a {kind} model; calibration needs a "
            f"binary classifier (finetune.task one of {binary_tasks()})"
        )
    val = read_run_scores(model_dir, "val")
    known = val["label"] >= 0
    return fit_on_val(cfg, val["score"][known], val["label"][known].astype(int))


def calibrator_record(calibrator: Calibrator, name: str, model_dir: Path) -> dict[str, Any]:
    """calibrator.json: the fit, the run it belongs to, and its weights' SHA-256, which
    ``ttmbio predict`` checks before applying it."""
    return {**calibrator.to_json(), "model": name, "model_sha256": model_digest(model_dir)}


def read_calibrator(path: Path) -> dict[str, Any]:
    """calibrator.json as written by :func:`calibrator_record`, or a one-line error."""
    if not path.is_file():
        raise SourceError(f"{path}: calibrator not found; run `ttmbio calibrate`")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not a calibrator JSON ({err.msg}); re-run calibrate") from None


def fitted_on(doc: dict[str, Any], digest: str) -> bool:
    """Whether a calibrator was fitted on the weights with SHA-256 ``digest``: the one
    ownership check (evaluate and predict), by content rather than by run name."""
    return doc.get("model_sha256") == digest


def calibrator_for(path: Path, digest: str) -> dict[str, Any]:
    """calibrator.json at ``path``, refused unless fitted on the weights with ``digest``."""
    doc = read_calibrator(path)
    if not fitted_on(doc, digest):
        raise ConfigError(
            f"{path}: fitted on other weights than this model (model_sha256 differs); "
            "run `ttmbio calibrate` for this model"
        )
    return doc
