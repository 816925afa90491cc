"""The ``ttmbio`` console script."""

from __future__ import annotations

import atexit
import gc

import typer

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


def lighten_gc() -> None:
    """Spend less of a short-lived command's time in the cyclic garbage collector.

    A stage imports torch, transformers and granite-tsfm: ~0.5 M long-lived objects that
    the collector keeps rescanning while they load (~1.5 s of an ~8 s import on 2 cores) and
    scans once more as the interpreter exits (~2 s). Collect young objects less often, and
    freeze every object once the other exit handlers have run (this one is registered first,
    so it runs last): the final collection then skips them, and the process's memory goes
    back to the system whole. Files are closed by then: outputs are written and renamed before
    a command returns.
    """
    gc.set_threshold(10_000, 10, 10)
    atexit.register(gc.freeze)


def main() -> None:
    lighten_gc()
    app()
