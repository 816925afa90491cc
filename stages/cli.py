"""The ``ttmbio`` console script."""

from __future__ import annotations

import typer

from stages.baseline import baseline
from stages.bench import bench
from stages.calibrate import calibrate
from stages.compare import compare
from stages.cv import cv, cv_fold
from stages.evaluate import evaluate
from stages.finetune import finetune
from stages.forecast import forecast_app
from stages.label_efficiency import label_efficiency
from stages.predict import predict
from stages.pretrain import pretrain
from stages.splits import splits
from stages.synth import synth
from stages.windows import windows

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
app.command()(bench)


def main() -> None:
    app()
