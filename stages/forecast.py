"""``ttmbio forecast ...``: the glucose forecasting stages (spec 002) and fit/predict on a CSV."""

from __future__ import annotations

from pathlib import Path

import typer

from ttmbio.params import load_params
from ttmbio_stages.common import ParamsOption, one_line_errors, warn

forecast_app = typer.Typer(
    help="Glucose forecasting with TTM (spec 002): DVC stages, and fit/predict on your CSV.",
    no_args_is_help=True,
)
DATA = Path("data/forecast")
BASE = Path("models/forecast/base")
FINETUNED = Path("models/forecast/finetuned")


@forecast_app.command("data")
@one_line_errors
def data(
    out: Path = typer.Option(DATA, help="folder for glucose.csv and splits.json."),
    metrics: Path = typer.Option(Path("metrics/forecast/data.json"), help="data summary."),
    params: Path = ParamsOption,
) -> None:
    """Simulate virtual T1D patients (simglucose) and split them by patient."""
    cfg = load_params(params).forecast
    from ttmbio.forecast.cohort import write_forecast_data

    typer.echo(write_forecast_data(cfg, out, metrics).line())


@forecast_app.command("train")
@one_line_errors
def train(
    data: Path = typer.Option(DATA, help="output of `ttmbio forecast data`."),
    out: Path = typer.Option(BASE, help="saved forecaster folder."),
    metrics: Path = typer.Option(Path("metrics/forecast/train.json"), help="training summary."),
    params: Path = ParamsOption,
) -> None:
    """Train the forecaster on the train patients, best epoch on the val patients."""
    cfg = load_params(params).forecast
    from ttmbio.forecast.training import train_forecaster

    typer.echo(train_forecaster(cfg, data, out, metrics).line())


@forecast_app.command("finetune")
@one_line_errors
def finetune(
    data: Path = typer.Option(DATA, help="output of `ttmbio forecast data`."),
    base: Path = typer.Option(BASE, help="forecaster trained on other patients."),
    out: Path = typer.Option(FINETUNED, help="fine-tuned forecaster folder."),
    params: Path = ParamsOption,
) -> None:
    """Adapt the base forecaster to the test patients' early data (before their cutoff)."""
    cfg = load_params(params).forecast
    from ttmbio.forecast.training import adapt_forecaster

    report = adapt_forecaster(cfg, data, base, out)
    typer.echo(f"forecast finetune: {report.train_windows} adaptation windows -> {out}")


@forecast_app.command("evaluate")
@one_line_errors
def evaluate(
    data: Path = typer.Option(DATA, help="output of `ttmbio forecast data`."),
    base: Path = typer.Option(BASE, help="forecaster trained on other patients (zero-shot)."),
    finetuned: Path = typer.Option(FINETUNED, help="forecaster adapted to the test patients."),
    metrics: Path = typer.Option(Path("metrics/forecast/evaluate.json"), help="metrics file."),
    plots: Path = typer.Option(Path("plots/forecast"), help="PNG folder."),
    params: Path = ParamsOption,
) -> None:
    """RMSE, MAE, MARD and Clarke zones per horizon on held-out patients, against persistence."""
    cfg = load_params(params).forecast
    from ttmbio.forecast.evaluate import evaluate_forecasters

    typer.echo(evaluate_forecasters(cfg, data, base, finetuned, metrics, plots).line())


@forecast_app.command("fit")
@one_line_errors
def fit(
    data: Path = typer.Option(..., help="CSV: datetime, patient id, target and input columns."),
    out: Path = typer.Option(..., help="folder for the saved forecaster."),
    val: Path | None = typer.Option(None, help="optional CSV of validation patients."),
    params: Path = ParamsOption,
) -> None:
    """Train a forecaster on your CSV with the forecast.model params."""
    cfg = load_params(params).forecast.model
    from ttmbio.forecast.training import fit_csv

    report = fit_csv(cfg, data, out, val)
    warn(f"patient {p} dropped: {why}" for p, why in report.dropped_patients.items())
    typer.echo(f"forecast fit: {report.train_windows} windows -> {out}")


@forecast_app.command("predict")
@one_line_errors
def predict(
    data: Path = typer.Option(..., help="CSV with at least context_length steps per patient."),
    output: Path = typer.Option(..., help="CSV of forecasts (one row per origin and step)."),
    model: Path | None = typer.Option(None, help="a forecaster saved by fit or the DVC stages."),
    pretrained: str | None = typer.Option(
        None, help="zero-shot with a pretrained TTM (local folder or hub id) instead of --model."
    ),
    stride: int = typer.Option(1, min=1, help="steps between forecast origins."),
    params: Path = ParamsOption,
) -> None:
    """Forecast from every ``stride``-th origin; writes patient, origin, minutes ahead, value."""
    # a saved forecaster carries its config: params are read only for a zero-shot TTM
    cfg = None if pretrained is None else load_params(params).forecast.model
    from ttmbio.forecast.on_csv import predict_csv

    typer.echo(predict_csv(cfg, data, output, model, pretrained, stride).line())
