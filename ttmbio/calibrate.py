"""The calibrate stage: fit a calibrator on a fine-tuned classifier's val predictions.

Only val predictions are used (test stays untouched for evaluation). If the fitted calibrator
would make val ECE worse -- possible for a model that is already well calibrated, with few
val windows -- the identity (temperature 1) is kept instead and the report says so, so
calibration never makes val ECE worse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ttmbio.calibration import Calibrator, calibration_report, fit_calibrator, reliability_curve
from ttmbio.errors import ConfigError
from ttmbio.inference import load_finetuned, model_digest, score_store
from ttmbio.params import CalibrateParams, binary_tasks

IDENTITY = Calibrator("temperature", {"temperature": 1.0})


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
    curves = {
        "before": reliability_curve(probs, labels, cfg.n_bins),
        "after": reliability_curve(kept.apply(probs), labels, cfg.n_bins),
    }
    return kept, metrics, curves


def calibrator_record(calibrator: Calibrator, name: str, model_dir: Path) -> dict[str, Any]:
    """calibrator.json: the fit, the run it belongs to, and its weights' SHA-256, which
    ``ttmbio predict`` checks before applying it."""
    return {**calibrator.to_json(), "model": name, "model_sha256": model_digest(model_dir)}
