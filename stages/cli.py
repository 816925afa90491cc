"""The ``ttmbio`` console script."""

from __future__ import annotations

import typer

from ttmbio.gc_tuning import lighten_gc
from ttmbio_stages.baseline import baseline
from ttmbio_stages.bench import bench
from ttmbio_stages.calibrate import calibrate
from ttmbio_stages.compare import compare
from ttmbio_stages.cv import cv, cv_fold
from ttmbio_stages.evaluate import evaluate
from ttmbio_stages.export import export_app
from ttmbio_stages.finetune import finetune
from ttmbio_stages.forecast import forecast_app
from ttmbio_stages.label_efficiency import label_efficiency
from ttmbio_stages.predict import predict
from ttmbio_stages.pretrain import pretrain
from ttmbio_stages.splits import splits
from ttmbio_stages.synth import synth
from ttmbio_stages.windows import windows

app = typer.Typer(
    name="ttmbio",
    help="Tiny Time Mixers for biosignals: the DVC pipeline's stages as commands.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
app.command()(synth)
app.command()(splits)
app.command()(windows)
app.command()(pretrain)
app.command()(finetune)
app.command()(calibrate)
app.command()(evaluate)
app.command()(baseline)
app.command(name="label-efficiency")(label_efficiency)
app.command(name="cv-fold")(cv_fold)
app.command()(cv)
app.command()(predict)
app.command()(compare)
app.add_typer(forecast_app, name="forecast")
app.add_typer(export_app, name="export")
app.command()(bench)


def main() -> None:
    lighten_gc()
    app()
