"""A fine-tuned model as one self-contained folder that ``ttmbio predict --model`` reads and
that can be published as is.

``model.safetensors``
    the weights (encoder + head, LoRA merged), plain tensor names.
``config.json``
    :class:`ExportedModel`: the checkpoint's metadata (task, channels, model and head params,
    the windowing recipe with the train statistics), the SHA-256 of the run's checkpoint it
    came from (which ties the calibrator to it) and of ``model.safetensors``.
``calibrator.json``
    the calibrator fitted on this model's val predictions, when one was given.
``model.onnx``
    the same model (and calibration) for onnxruntime: :mod:`ttmbio.export.onnx`.
``README.md``
    the model card: :mod:`ttmbio.export.card`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from huggingface_hub import ModelCardData
from pydantic import BaseModel, ConfigDict
from safetensors.torch import load_file, save_file

from ttmbio.atomic import atomic_dir, atomic_write_json, atomic_write_text
from ttmbio.calibration.for_run import calibrator_for, write_calibrator
from ttmbio.digest import file_sha256
from ttmbio.errors import SourceError
from ttmbio.export.card import (
    TAGS,
    TrainingData,
    eval_results,
    limitations,
    metrics_table,
    read_metrics,
    readable_by_all,
    render_card,
    training_data,
)
from ttmbio.export.onnx import export_onnx
from ttmbio.finetune.inference import LoadedModel, assemble, load_finetuned
from ttmbio.finetune.summary import RunSummary, read_run_summary
from ttmbio.model.hf_encoder import MODEL_EXPORT_PREFIX
from ttmbio.training.meta import ClassifierMeta
from ttmbio.versioned import read_versioned

MODEL_FORMAT = f"{MODEL_EXPORT_PREFIX}1"
CONFIG, WEIGHTS, CALIBRATOR, ONNX, CARD = (
    "config.json",
    "model.safetensors",
    "calibrator.json",
    "model.onnx",
    "README.md",
)


NO_RECIPE = "- No windowing recipe was saved: predict cannot window raw recordings."


class ExportedModel(BaseModel):
    """``config.json`` of an exported fine-tuned model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["ttmbio.model-export/1"] = MODEL_FORMAT
    library_name: Literal["ttmbio"] = "ttmbio"
    task: str
    meta: ClassifierMeta
    source_sha256: str  # of the run's best.pt: the digest its calibrator was fitted on
    weights_sha256: str  # of model.safetensors
    calibrator: str | None  # file name in the folder
    onnx: str | None


class ModelExport(BaseModel):
    """What ``ttmbio export model`` wrote."""

    model_config = ConfigDict(frozen=True)

    out: Path
    task: str
    calibrated: bool
    onnx: bool

    def line(self) -> str:
        extras = [x for x, on in (("calibrator", self.calibrated), ("ONNX", self.onnx)) if on]
        return (
            f"export model: {self.task} (weights, config, recipe, model card"
            + "".join(f", {x}" for x in extras)
            + f") -> {self.out}"
        )


def export_model(
    run: Path,
    out: Path,
    calibrator: Path | None = None,
    metrics: Path | None = None,
    split_file: Path | None = None,
    onnx: bool = True,
) -> ModelExport:
    """Write the fine-tuning run ``run`` to the folder ``out`` (whole or not at all).

    ``calibrator`` must have been fitted on this run's weights (else a one-line error);
    ``metrics`` (``ttmbio evaluate``'s file) fills the card's table; ``split_file`` says what
    the model trained on.
    """
    loaded = load_finetuned(run)
    summary = read_run_summary(run)
    record = calibrator_for(calibrator, loaded.digest) if calibrator is not None else None
    if record is not None and loaded.kind != "binary":
        raise SourceError(f"{calibrator}: a calibrator applies to binary classifiers only")
    data = training_data(split_file, [summary.dataset]) if split_file is not None else None
    test_metrics = read_metrics(metrics)  # refused before any work
    with atomic_dir(out) as tmp:
        save_file(loaded.model.state_dict(), str(tmp / WEIGHTS), metadata={"format": "pt"})
        if record is not None:
            write_calibrator(tmp / CALIBRATOR, record)
        if onnx:
            export_onnx(loaded, record.calibrator if record else None, tmp / ONNX)
        config = ExportedModel(
            task=summary.task,
            meta=loaded.meta,
            source_sha256=loaded.digest,
            weights_sha256=file_sha256(tmp / WEIGHTS),
            calibrator=CALIBRATOR if record is not None else None,
            onnx=ONNX if onnx else None,
        )
        atomic_write_json(tmp / CONFIG, config.model_dump(mode="json"))
        card = model_card(config, summary, test_metrics, data, record is not None)
        atomic_write_text(tmp / CARD, card)
        readable_by_all(tmp)
    return ModelExport(out=out, task=summary.task, calibrated=record is not None, onnx=onnx)


def is_exported_model(path: Path) -> bool:
    """Whether ``path`` is a folder written by :func:`export_model` (by its config's format)."""
    config = Path(path) / CONFIG
    if not config.is_file():
        return False
    try:
        doc = json.loads(config.read_text())
    except (OSError, ValueError):
        return False
    # any version: read_exported then names the one this ttmbio cannot read
    return isinstance(doc, dict) and str(doc.get("format", "")).startswith(MODEL_EXPORT_PREFIX)


def read_exported(folder: Path) -> ExportedModel:
    """``config.json`` of an exported model; a one-line error naming it otherwise."""
    return read_versioned(
        Path(folder) / CONFIG,
        ExportedModel,
        MODEL_FORMAT,
        "exported model config",
        "ttmbio export model",
        missing="not an exported model folder; export one with `ttmbio export model`",
    )


def load_exported(folder: Path, config: ExportedModel | None = None) -> LoadedModel:
    """The model of an exported folder, in eval mode, as :func:`load_finetuned` gives it
    (``config``: the folder's config when the caller has read it already)."""
    folder = Path(folder)
    config = config or read_exported(folder)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise SourceError(f"{weights}: missing; copy the whole exported folder, or re-export")
    if file_sha256(weights) != config.weights_sha256:
        raise SourceError(
            f"{weights}: does not match the weights_sha256 in {folder / CONFIG}; re-export"
        )
    fix = "re-export the folder with `ttmbio export model`"
    return assemble(config.meta, load_file(str(weights)), config.source_sha256, weights, fix)


def exported_file(folder: Path, name: str | None, what: str) -> Path:
    """A file the exported config names (calibrator, ONNX); one line when it is missing."""
    if name is None:
        raise SourceError(f"{folder}: exported without {what}; re-export with it")
    path = Path(folder) / name
    if not path.is_file():
        raise SourceError(f"{path}: missing ({what}); copy the whole exported folder")
    return path


def model_card(
    config: ExportedModel,
    summary: RunSummary,
    metrics: dict,
    data: TrainingData | None,
    calibrated: bool,
) -> str:
    """The README.md of an exported model."""
    meta, task = config.meta, config.task
    dataset = meta.task.dataset
    card = ModelCardData(
        library_name="ttmbio",
        license="apache-2.0",
        tags=[*TAGS, meta.task.kind, dataset],
        model_name=f"ttmbio-{task}",
        eval_results=eval_results(metrics, task, dataset) or None,
    )
    recipe = meta.preprocessing
    fs = meta.config.windows.fs if meta.config.windows else None
    metric, value = summary.val_score
    sections = {
        "Model": [
            f"TinyTimeMixer encoder (d_model {meta.config.model.d_model}, "
            f"{meta.config.model.num_layers} layers) with a {meta.config.finetune.head.pooling}"
            f"-pooled head, fine-tuned for **{task}** ({meta.task.kind}: `{meta.task.target}` "
            f"from channels {', '.join(meta.channels)}; windows of "
            f"{meta.config.model.context_length} samples" + (f" at {fs:g} Hz" if fs else "") + ").",
            f"Encoder: {summary.init} ({'LoRA' if summary.lora else summary.mode}); "
            f"{summary.label_fraction:.0%} of train labels, seed {summary.seed}; best epoch "
            f"{summary.best_epoch} of {summary.epochs_run}, val {metric} {value:.3f}.",
            "",
            "```bash",
            "ttmbio predict --model <this folder> --input recording.vital   # torch",
            "ttmbio predict --model <this folder> --input recording.vital --runtime onnx",
            "```",
            "",
            "Files: `model.safetensors` (weights), `config.json` (task, channels, params and "
            "the windowing recipe with train statistics)"
            + (", `calibrator.json`" if calibrated else "")
            + (", `model.onnx` (normalised windows in; `score`" if config.onnx else "")
            + (" and calibrated `probability`" if config.onnx and calibrated else "")
            + (" out)" if config.onnx else "")
            + ".",
        ],
        "Training data": (data.lines() if data is not None else ["not recorded"])
        + [
            f"- {summary.train_windows} train and {summary.val_windows} val windows of "
            f"{dataset}, split by subject",
        ],
        "Metrics (test split)": metrics_table(metrics) if metrics else ["not evaluated"],
        "Intended use": [
            "Research on biosignal models: scoring recordings like the training data "
            "(same channels, sampling, filters and quality gates, applied by "
            "`ttmbio predict` from the recipe). Not a medical device; not for diagnosis "
            "or treatment decisions.",
        ],
        "Limitations": limitations(
            data,
            "Trained and evaluated",
            [
                "- Intervals resample the test subjects or recordings; small test sets give "
                "wide intervals.",
                "- Windows rejected by the quality gates get no score; a recording with none "
                "gets no prediction.",
                *(
                    ["- No windowing recipe: predict cannot window raw recordings."]
                    if recipe is None
                    else []
                ),
            ],
        ),
    }
    return render_card(card, f"ttmbio {task}", sections)
