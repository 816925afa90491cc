"""``ttmbio forecast ...``: the glucose forecasting stages (spec 002) and fit/predict on a CSV."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from stages.common import ParamsOption, one_line_errors, warn
from ttmbio.params import load_params

forecast_app = typer.Typer(
    help="Glucose forecasting with TTM (spec 002): DVC stages, and fit/predict on your CSV.",
    no_args_is_help=True,
)
DATA = Path("data/forecast")
BASE = Path("models/forecast/base")
FINETUNED = Path("models/forecast/finetuned")


def _read(csv: Path, id_column: str):  # -> pd.DataFrame
    import pandas as pd

    from ttmbio.errors import SourceError

    if not csv.is_file():
        raise SourceError(f"{csv}: not found; pass a CSV with datetime, id, target and inputs")
    try:
        return pd.read_csv(csv, dtype={id_column: str})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise SourceError(f"{csv}: not a readable CSV ({str(err).splitlines()[0]})") from None


def _test_cutoff(cfg, frames):  # -> (test frame, per-patient adaptation cutoff)
    from ttmbio.forecast.splits import adaptation_cutoff

    m, test = cfg.model, frames["test"]
    fraction = cfg.splits.adapt_fraction
    return test, adaptation_cutoff(test, m.id_column, m.timestamp_column, fraction)


def _split_frames(data: Path, params: Path):
    cfg = load_params(params).forecast
    frame = _read(data / "glucose.csv", cfg.model.id_column)
    splits = json.loads((data / "splits.json").read_text())["patients"]
    ids = frame[cfg.model.id_column]
    return cfg, {name: frame[ids.isin(members)] for name, members in splits.items()}


@forecast_app.command("data")
@one_line_errors
def data(
    out: Path = typer.Option(DATA, help="folder for glucose.csv and splits.json."),
    metrics: Path = typer.Option(Path("metrics/forecast/data.json"), help="data summary."),
    params: Path = ParamsOption,
) -> None:
    """Simulate virtual T1D patients (simglucose) and split them by patient."""
    cfg = load_params(params).forecast
    import pandas as pd

    from ttmbio.atomic import atomic_dir, atomic_write_json
    from ttmbio.forecast.quality import check_with_config
    from ttmbio.forecast.splits import split_patients
    from ttmbio.forecast.synth import synthesize_glucose

    m = cfg.model
    with atomic_dir(out) as tmp:
        summary = synthesize_glucose(cfg.data, tmp)
        frame = pd.read_csv(tmp / "glucose.csv", dtype={m.id_column: str})
        _, report = check_with_config(frame, m)
        patients = sorted(set(frame[m.id_column]) - set(report.dropped_patients))
        splits = split_patients(patients, cfg.splits.ratios, cfg.splits.seed)
        atomic_write_json(tmp / "splits.json", {"patients": splits})
    atomic_write_json(
        metrics,
        {
            **summary,
            "quality": report.to_dict(),
            "split_patients": {k: len(v) for k, v in splits.items()},
        },
    )
    typer.echo(
        f"forecast data: {summary['patients']} patients, {summary['rows']} rows at "
        f"{cfg.data.sample_min} min, {summary['pct_missing_bg']:.1f} % sensor gaps; split "
        + ", ".join(f"{k} {len(v)}" for k, v in splits.items())
        + f" -> {out}"
    )


@forecast_app.command("train")
@one_line_errors
def train(
    data: Path = typer.Option(DATA, help="output of `ttmbio forecast data`."),
    out: Path = typer.Option(BASE, help="saved forecaster folder."),
    metrics: Path = typer.Option(Path("metrics/forecast/train.json"), help="training summary."),
    params: Path = ParamsOption,
) -> None:
    """Train the forecaster on the train patients, best epoch on the val patients."""
    cfg, frames = _split_frames(data, params)
    from ttmbio.atomic import atomic_dir, atomic_write_json
    from ttmbio.forecast.model import Forecaster

    forecaster = Forecaster(cfg.model)
    result = forecaster.fit(frames["train"], frames["val"])
    with atomic_dir(out) as tmp:
        forecaster.save(tmp)
    evals = [r["eval_loss"] for r in result["history"] if "eval_loss" in r]
    summary = {
        "train_windows": result["train_windows"],
        "val_windows": result["val_windows"],
        "epochs_run": len(evals),
        "best_val_loss": min(evals) if evals else None,
    }
    atomic_write_json(metrics, summary)
    typer.echo(
        f"forecast train: {summary['train_windows']} windows, {summary['epochs_run']} epochs, "
        f"best val loss {summary['best_val_loss']} -> {out}"
    )


@forecast_app.command("finetune")
@one_line_errors
def finetune(
    data: Path = typer.Option(DATA, help="output of `ttmbio forecast data`."),
    base: Path = typer.Option(BASE, help="forecaster trained on other patients."),
    out: Path = typer.Option(FINETUNED, help="fine-tuned forecaster folder."),
    params: Path = ParamsOption,
) -> None:
    """Adapt the base forecaster to the test patients' early data (before their cutoff)."""
    cfg, frames = _split_frames(data, params)
    from ttmbio.atomic import atomic_dir
    from ttmbio.forecast.model import Forecaster
    from ttmbio.forecast.splits import before

    m = cfg.model
    test, cutoff = _test_cutoff(cfg, frames)
    forecaster = Forecaster.load(base)
    result = forecaster.fit(
        before(test, m.id_column, m.timestamp_column, cutoff),
        epochs=cfg.finetune_epochs,
        learning_rate=cfg.finetune_learning_rate,
    )
    with atomic_dir(out) as tmp:
        forecaster.save(tmp)
    typer.echo(f"forecast finetune: {result['train_windows']} adaptation windows -> {out}")


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
    cfg, frames = _split_frames(data, params)
    from ttmbio.atomic import atomic_write_json
    from ttmbio.forecast.evaluate import after_cutoff, compare, persistence
    from ttmbio.forecast.metrics import MGDL_PER_MMOL
    from ttmbio.forecast.model import Forecaster
    from ttmbio.forecast.plots import plot_clarke, plot_examples

    m = cfg.model
    test, cutoff = _test_cutoff(cfg, frames)
    runs = {
        "finetuned": Forecaster.load(finetuned).predict(test, cfg.eval_stride),
        "zero_shot": Forecaster.load(base).predict(test, cfg.eval_stride),
    }
    runs = {name: after_cutoff(fc, cutoff) for name, fc in runs.items()}
    report = compare(runs, m.resolution_min, cfg.horizons_min)
    atomic_write_json(metrics, report)
    ft = runs["finetuned"]
    plot_examples(runs, persistence(ft), m.resolution_min, plots / "examples.png")
    step = cfg.horizons_min[0] // m.resolution_min - 1
    plot_clarke(
        ft.observed[:, step] * MGDL_PER_MMOL,
        ft.predicted[:, step] * MGDL_PER_MMOL,
        f"fine-tuned, {cfg.horizons_min[0]} min ahead (held-out patients)",
        plots / "clarke.png",
    )
    parts = []
    for h in [f"{h}min" for h in cfg.horizons_min]:
        parts.append(
            f"{h} RMSE {report['finetuned'][h]['rmse_mgdl']:.1f} / zero-shot "
            f"{report['zero_shot'][h]['rmse_mgdl']:.1f} / persistence "
            f"{report['persistence'][h]['rmse_mgdl']:.1f} mg/dL"
        )
    typer.echo(f"forecast evaluate ({report['windows']} windows): " + "; ".join(parts))


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
    from ttmbio.atomic import atomic_dir
    from ttmbio.forecast.model import Forecaster

    forecaster = Forecaster(cfg)
    result = forecaster.fit(
        _read(data, cfg.id_column), None if val is None else _read(val, cfg.id_column)
    )
    quality = result["quality"]
    warn(f"patient {p} dropped: {why}" for p, why in quality["dropped_patients"].items())
    with atomic_dir(out) as tmp:
        forecaster.save(tmp)
    typer.echo(f"forecast fit: {result['train_windows']} windows -> {out}")


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
    from ttmbio.errors import ConfigError

    if (model is None) == (pretrained is None):
        raise ConfigError("pass exactly one of --model (a saved forecaster) or --pretrained")
    from ttmbio.atomic import atomic_write_text
    from ttmbio.forecast.forecasts import forecasts_table
    from ttmbio.forecast.model import Forecaster

    if model is not None:
        forecaster = Forecaster.load(model)
        fc = forecaster.predict(_read(data, forecaster.config.id_column), stride)
    else:
        cfg = load_params(params).forecast.model.model_copy(update={"model_path": pretrained})
        forecaster = Forecaster(cfg)
        fc = forecaster.predict_zero_shot(_read(data, cfg.id_column), stride)
    table = forecasts_table(fc, forecaster.config)
    atomic_write_text(output, table.to_csv(index=False, float_format="%.4f"))
    typer.echo(
        f"forecast predict: {len(fc.origin)} origins x {fc.predicted.shape[1]} steps -> {output}"
    )
