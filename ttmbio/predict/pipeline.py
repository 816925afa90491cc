"""From a model folder and an input path to a predictions document (the ``predict`` command).

The calibrator is optional and must belong to the model: ``ttmbio calibrate`` stores the
SHA-256 of the weights it was fitted on, and a calibrator fitted on other weights is refused
(named explicitly) or left out with a note (found at its default place), never applied
silently to the wrong model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ttmbio.calibration.calibrator import Calibrator
from ttmbio.calibration.for_run import calibrator_for, fitted_on, read_calibrator
from ttmbio.errors import ConfigError, SourceError
from ttmbio.export.classifier import exported_file, is_exported_model, load_exported, read_exported
from ttmbio.export.onnx import OnnxScorer
from ttmbio.finetune.inference import LoadedModel, load_finetuned
from ttmbio.predict.inputs import find_inputs
from ttmbio.predict.output import to_document
from ttmbio.predict.scoring import Predictor, Scorer


@dataclass
class PredictRun:
    doc: dict[str, Any]
    notes: list[str] = field(default_factory=list)  # for the user, one line each


def resolve_calibrator(
    path: Path | None, explicit: bool, loaded: LoadedModel
) -> tuple[Calibrator | None, str]:
    """The calibrator to apply and how it was chosen (``"none: <why>"`` when not applied)."""
    if loaded.kind != "binary":
        return None, "none: regression model"
    if path is None or not path.is_file():
        if explicit:
            raise SourceError(f"--calibrator {path}: file not found; run `ttmbio calibrate`")
        return None, "none: no calibrator found (probabilities are the model's own)"
    if explicit:
        record = calibrator_for(path, loaded.digest)
    else:
        record = read_calibrator(path)
        if not fitted_on(record, loaded.digest):
            return None, f"none: {path} belongs to another model"
    return record.calibrator, f"{record.method} ({path})"


def _load_model(
    model_dir: Path, calibrator: Path | None, explicit: bool, runtime: str
) -> tuple[LoadedModel, Path | None, Scorer | None]:
    """The model, the calibrator to look for and the ONNX scorer (None: torch)."""
    if runtime not in ("torch", "onnx"):
        raise ConfigError(f"--runtime {runtime!r}: use torch or onnx")
    if not is_exported_model(model_dir):
        if runtime == "onnx":
            raise ConfigError(
                f"--runtime onnx: {model_dir} is not an exported model folder; export it with "
                "`ttmbio export model` (it writes model.onnx)"
            )
        return load_finetuned(model_dir), calibrator, None
    config = read_exported(model_dir)
    loaded = load_exported(model_dir, config)
    if not explicit:  # the folder's own, which its config says is there
        calibrator = (
            exported_file(model_dir, config.calibrator, "its calibrator")
            if config.calibrator
            else None
        )
    scorer = None
    if runtime == "onnx":
        scorer = OnnxScorer(exported_file(model_dir, config.onnx, "an ONNX model")).score
    return loaded, calibrator, scorer


def run_predict(
    model_dir: Path,
    input_path: Path,
    calibrator: Path | None,
    calibrator_explicit: bool,
    voting: str,
    threshold: float,
    batch_size: int = 256,
    workers: int = 1,
    runtime: str = "torch",
) -> PredictRun:
    """Predict every recording under ``input_path``; per-recording problems become rows with
    status ``error``, but a single input that fails, or a folder where all fail, raises.

    ``model_dir`` is a fine-tuning run or a folder written by ``ttmbio export model``, whose
    own calibrator is the default; ``runtime="onnx"`` scores with its ``model.onnx`` in
    onnxruntime instead of torch."""
    loaded, calibrator, scorer = _load_model(model_dir, calibrator, calibrator_explicit, runtime)
    # records are found by the signal names the model was trained on
    items = find_inputs(input_path, None if loaded.recipe is None else loaded.recipe.tracks)
    fitted, calibration = resolve_calibrator(calibrator, calibrator_explicit, loaded)
    predictor = Predictor(loaded, fitted, batch_size, scorer)
    results = list(predictor.predict(items, workers))
    failed = [r for r in results if r.error is not None]
    if len(failed) == len(results):
        first = failed[0].error
        raise SourceError(
            first
            if len(results) == 1
            else f"{input_path}: none of its {len(results)} recordings could be read; "
            f"first: {first}"
        )
    header = {
        "model": str(model_dir),
        "model_sha256": loaded.digest,
        "task": {"dataset": loaded.dataset, "target": loaded.target, "kind": loaded.kind},
        "channels": loaded.channels,
        "calibration": calibration,
    }
    doc = to_document(results, header, loaded.kind, voting, threshold)
    notes = [f"skipped {r.error}" for r in failed]
    if calibration.startswith("none:"):
        notes.append(f"calibration {calibration}")
    return PredictRun(doc, notes)
