"""The calibrate stage: fit a calibrator on a fine-tuned classifier's val predictions.

Only val predictions are used (test stays untouched for evaluation). If the fitted calibrator
would make val ECE worse -- possible for a model that is already well calibrated, with few
val windows -- the identity (temperature 1) is kept instead and the report says so, so
calibration never makes val ECE worse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ttmbio.calibration import Calibrator, fit_on_val
from ttmbio.errors import ConfigError
from ttmbio.inference import load_finetuned, model_digest, score_store
from ttmbio.params import CalibrateParams, binary_tasks


def calibrate(
    cfg: CalibrateParams, model_dir: Path, windows: Path
) -> tuple[Calibrator, dict[str, Any], dict[str, Any]]:
    """Return (calibrator, metrics, reliability curves before/after) for ``model_dir``."""
    loaded = load_finetuned(model_dir)
    if loaded.kind != "binary":
        raise ConfigError(
            f"{model_dir}: calibrate.model is a {loaded.kind} model; calibration needs a "
            f"binary classifier (finetune.task one of {binary_tasks()})"
        )
    val = score_store(loaded, windows / loaded.dataset / "val.zarr")
    known = val["label"] >= 0
    return fit_on_val(cfg, val["score"][known], val["label"][known].astype(int))


def calibrator_record(calibrator: Calibrator, name: str, model_dir: Path) -> dict[str, Any]:
    """calibrator.json: the fit, the run it belongs to, and its weights' SHA-256, which
    ``ttmbio predict`` checks before applying it."""
    return {**calibrator.to_json(), "model": name, "model_sha256": model_digest(model_dir)}
