"""A fine-tuned run's calibrator file: fitted on its val predictions, tied to its weights.

The predictions are those the fine-tuning run wrote (``ttmbio.finetune.scores``): no model load.

Only val predictions are used (test stays untouched for evaluation). If the fitted calibrator
would make val ECE worse -- possible for a model that is already well calibrated, with few
val windows -- the identity (temperature 1) is kept instead and the report says so, so
calibration never makes val ECE worse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ttmbio.atomic import atomic_dir, atomic_write_json
from ttmbio.calibration.calibrator import CALIBRATOR_FORMAT, Calibrator, fit_on_val
from ttmbio.errors import ConfigError
from ttmbio.finetune.scores import model_digest, read_run_scores
from ttmbio.finetune.summary import read_run_summary
from ttmbio.params import CalibrateParams, binary_tasks
from ttmbio.versioned import read_versioned


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


class CalibrationScores(BaseModel):
    """ECE, NLL and Brier score of one set of val probabilities."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ece: float
    nll: float
    brier: float


class CalibrateReport(BaseModel):
    """What ``ttmbio calibrate`` did: the run calibrated, the method asked for and the one
    applied (``identity`` when the fit would have made val ECE worse), val scores before and
    after, and the files written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    method: str
    applied: str
    val_windows: int
    val_before: CalibrationScores
    val_after: CalibrationScores
    calibrator_file: Path
    metrics_file: Path


class CalibratorFile(BaseModel):
    """``calibrator.json``: the fitted map (method and params, as :class:`Calibrator` writes
    them), the run it was fitted for and the SHA-256 of that run's weights, which evaluate
    and predict check before applying it. ``format`` names the schema version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["ttmbio-calibrator/1"] = CALIBRATOR_FORMAT
    method: str
    params: dict[str, Any]
    model: str | None = None  # the run's name (informative; the digest decides)
    model_sha256: str

    @property
    def calibrator(self) -> Calibrator:
        """The map itself; its params are validated strictly (one-line ConfigError)."""
        return Calibrator.from_json(self.model_dump())


def calibrator_record(calibrator: Calibrator, name: str, model_dir: Path) -> CalibratorFile:
    """The calibrator file of ``calibrator`` fitted for the run in ``model_dir``."""
    return CalibratorFile(**calibrator.to_json(), model=name, model_sha256=model_digest(model_dir))


def write_calibrator(path: Path, record: CalibratorFile) -> None:
    """Sorted keys, whole or not at all: the same fit gives the same bytes."""
    atomic_write_json(path, record.model_dump())


def read_calibrator(path: Path) -> CalibratorFile:
    """calibrator.json as written by :func:`write_calibrator`, or a one-line error naming the
    file: missing, not JSON, of another format version or shape, or with invalid params."""
    record = read_versioned(
        path,
        CalibratorFile,
        CALIBRATOR_FORMAT,
        "calibrator file",
        "ttmbio calibrate",
        missing="calibrator not found; run `ttmbio calibrate`",
        error=ConfigError,
        untagged_is_current=True,  # written before formats were recorded: the same schema
    )
    try:
        record.calibrator  # noqa: B018 - validates method and params
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    return record


def fitted_on(record: CalibratorFile, digest: str) -> bool:
    """Whether a calibrator was fitted on the weights with SHA-256 ``digest``: the one
    ownership check (evaluate and predict), by content rather than by run name."""
    return record.model_sha256 == digest


def calibrator_for(path: Path, digest: str) -> CalibratorFile:
    """calibrator.json at ``path``, refused unless fitted on the weights with ``digest``."""
    record = read_calibrator(path)
    if not fitted_on(record, digest):
        raise ConfigError(
            f"{path}: fitted on other weights than this model (model_sha256 differs); "
            "run `ttmbio calibrate` for this model"
        )
    return record


def calibrate_run(
    cfg: CalibrateParams, models: Path, out: Path, metrics: Path, plots: Path
) -> CalibrateReport:
    """Fit the calibrator of run ``models/<calibrate.model>`` on its val scores and write
    ``out/calibrator.json`` (the folder whole or not at all), the metrics file and the val
    reliability diagram (JSON + PNG in ``plots``)."""
    from ttmbio.plots import plot_reliability  # matplotlib: only when plotting

    run = models / cfg.model
    calibrator, report, curves = calibrate(cfg, run)
    with atomic_dir(out) as tmp:
        write_calibrator(tmp / "calibrator.json", calibrator_record(calibrator, cfg.model, run))
    atomic_write_json(metrics, report)
    plots.mkdir(parents=True, exist_ok=True)
    atomic_write_json(plots / "reliability.json", curves)
    plot_reliability(curves, f"val reliability ({cfg.method})", plots / "reliability.png")
    return CalibrateReport(
        model=cfg.model,
        calibrator_file=out / "calibrator.json",
        metrics_file=metrics,
        **report,
    )
