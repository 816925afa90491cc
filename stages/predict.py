"""``ttmbio predict``: score new recordings with a fine-tuned model, outside DVC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ttmbio_stages.common import one_line_errors, warn

DEFAULT_CALIBRATOR = Path("models/calibrate/calibrator.json")


def _line(rec: dict[str, Any], kind: str) -> str:
    if rec["status"] == "error":
        return f"{rec['recording']}: error: {rec['reason']}"
    counts = f"{rec['windows_scored']} scored, {rec['windows_rejected']} rejected"
    if rec["status"] == "no_windows":
        return f"{rec['recording']}: no prediction ({counts})"
    if kind == "binary":
        return f"{rec['recording']}: p={rec['probability']:.3f} -> {rec['predicted']} ({counts})"
    return f"{rec['recording']}: {rec['value']:.2f} ({counts})"


@one_line_errors
def predict(
    model: Path = typer.Option(
        ...,
        help="a fine-tuning run (e.g. models/finetune/pretrained-1.0-seed42) or a folder "
        "written by `ttmbio export model` (e.g. models/export/butppg_quality).",
    ),
    input_path: Path = typer.Option(
        ..., "--input", help="a .vital file, a BUT-PPG record (folder or .hea) or a folder of them."
    ),
    output: Path | None = typer.Option(
        None, help="write predictions to this .csv or .json (default: print a summary)."
    ),
    calibrator: Path | None = typer.Option(
        None,
        help=f"calibrator JSON of this model (default: the exported folder's own, else "
        f"{DEFAULT_CALIBRATOR} if it matches).",
    ),
    voting: str = typer.Option("soft", help="per recording: soft (mean p) or hard (majority)."),
    threshold: float = typer.Option(0.5, help="probability above which a window is positive."),
    batch_size: int = typer.Option(256, min=1, help="windows per forward pass."),
    workers: int = typer.Option(1, min=1, help="recordings windowed in parallel."),
    runtime: str = typer.Option(
        "torch", help="torch, or onnx: an exported folder's model.onnx in onnxruntime."
    ),
) -> None:
    """Per-window and per-recording (calibrated) predictions, rejected windows with the reason."""
    from ttmbio.errors import ConfigError

    if voting not in ("soft", "hard"):
        raise ConfigError(f"--voting {voting!r}: use soft or hard")
    if not 0 < threshold < 1:
        raise ConfigError(f"--threshold {threshold}: must be between 0 and 1")
    if output is not None and output.suffix not in (".csv", ".json"):
        raise ConfigError(f"--output {output}: unknown format; use a .csv or .json file name")
    from ttmbio.predict.output import write_predictions
    from ttmbio.predict.pipeline import run_predict

    run = run_predict(
        model,
        input_path,
        calibrator or DEFAULT_CALIBRATOR,
        calibrator is not None,
        voting,
        threshold,
        batch_size,
        workers,
        runtime,
    )
    warn(run.notes)
    doc, kind = run.doc, run.doc["task"]["kind"]
    recordings = doc["recordings"]
    if output is None:
        for rec in recordings:
            typer.echo(_line(rec, kind))
    else:
        write_predictions(doc, output)
    scored = sum(r.get("windows_scored", 0) for r in recordings)
    rejected = sum(r.get("windows_rejected", 0) for r in recordings)
    errors = sum(r["status"] == "error" for r in recordings)
    typer.echo(
        f"predict: {len(recordings) - errors} recording(s) ({errors} skipped), {scored} windows "
        f"scored, {rejected} rejected by quality gates; calibration {doc['calibration']}"
        + (f" -> {output}" if output else "")
    )
