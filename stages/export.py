"""``ttmbio export encoder`` / ``ttmbio export model``: models in formats other tools read."""

from __future__ import annotations

from pathlib import Path

import typer

from ttmbio_stages.common import one_line_errors, warn

export_app = typer.Typer(
    help="Export the pretrained encoder (Hugging Face folder) or a fine-tuned model "
    "(safetensors, config, calibrator, ONNX and a model card).",
    no_args_is_help=True,
)


@export_app.command("encoder")
@one_line_errors
def encoder(
    pretrained: Path = typer.Option(Path("models/pretrain"), help="`ttmbio pretrain`'s folder."),
    out: Path = typer.Option(Path("models/export/encoder"), help="folder to write whole."),
    splits: Path = typer.Option(
        Path("data/splits.json"), help="split file: what the card says it trained on."
    ),
) -> None:
    """The best pretrained encoder as a TinyTimeMixerModel folder (save_pretrained)."""
    from ttmbio.export.encoder import export_encoder

    typer.echo(export_encoder(pretrained, out, _split_file(splits)).line())


@export_app.command("model")
@one_line_errors
def model(
    run: list[Path] = typer.Option(
        [Path("models/finetune/pretrained-1.0-seed42")],
        help="a fine-tuning run folder; repeat for several (one process: one torch import).",
    ),
    out: list[Path] = typer.Option(
        [Path("models/export/butppg_quality")], help="folder to write whole, one per --run."
    ),
    calibrator: list[Path] = typer.Option(
        [Path("models/calibrate/calibrator.json")],
        help="calibrator fitted on the run (`ttmbio calibrate`), one per --run; 'none' for none.",
    ),
    metrics: list[Path] = typer.Option(
        [Path("none")],
        help="test metrics of this very run for its card (`ttmbio evaluate`'s file, e.g. "
        "metrics/evaluate.json for calibrate.model's run), one per --run; default none.",
    ),
    splits: Path = typer.Option(
        Path("data/splits.json"), help="split file: what the cards say the models trained on."
    ),
    onnx: bool = typer.Option(True, help="also write model.onnx (torch.onnx, dynamo)."),
) -> None:
    """Fine-tuned models, each as one folder that `ttmbio predict --model` reads."""
    from ttmbio.errors import ConfigError
    from ttmbio.export.classifier import export_model

    for name, values in (("--out", out), ("--calibrator", calibrator), ("--metrics", metrics)):
        if len(values) != len(run):
            raise ConfigError(f"{name}: give one per --run ({len(run)}), got {len(values)}")
    split_file = _split_file(splits)
    for r, o, c, m in zip(run, out, calibrator, metrics, strict=True):
        cal, met = (None if str(x) == "none" else x for x in (c, m))
        typer.echo(export_model(r, o, cal, met, split_file, onnx).line())


def _split_file(splits: Path) -> Path | None:
    """The split file, or None (with a warning) when it is not there: outside the pipeline
    a model can be exported without one; its card then says the data was not recorded."""
    if splits.is_file():
        return splits
    warn([f"{splits} not found: the model card will not say what the model trained on"])
    return None
