"""``ttmbio windows``: resample, filter, gate and window every split into zarr stores."""

from __future__ import annotations

from pathlib import Path

import typer

from stages.common import ParamsOption, one_line_errors, progress, warn
from ttmbio.atomic import atomic_write_json
from ttmbio.params import load_params


@one_line_errors
def windows(
    splits: Path = typer.Option(Path("data/splits.json"), help="split file to read."),
    out: Path = typer.Option(Path("data/windows"), help="folder of stores to (re)write whole."),
    metrics: Path = typer.Option(
        Path("metrics/windows.json"), help="counts, rejections and the gate audit."
    ),
    plots: Path = typer.Option(Path("plots/windows"), help="folder for PNG plots."),
    params: Path = ParamsOption,
) -> None:
    """Turn every split's recordings into quality-gated, labelled 125 Hz windows."""
    cfg = load_params(params)
    from ttmbio.splits.schema import read_split_file
    from ttmbio.windows.build import build_windows
    from ttmbio.windows.gate_audit import gate_audit
    from ttmbio.windows.plots import plot_examples, plot_sqi
    from ttmbio.windows.store import WindowStore

    doc = read_split_file(splits)
    counts, report = build_windows(cfg, doc, out, progress)
    for dataset, skipped in report["skipped"].items():
        warn(f"{dataset}: skipped {s['reason']}" for s in skipped)
    audit = gate_audit(cfg.windows)
    atomic_write_json(metrics, {**counts, "gate_audit": audit})
    plots.mkdir(parents=True, exist_ok=True)
    for dataset, sqi in report["sqi"].items():
        plot_examples(WindowStore(out / dataset / "train.zarr"), plots / f"{dataset}_examples.png")
        plot_sqi(
            sqi,
            cfg.windows.quality,
            f"{dataset}: SQIs of all candidate windows",
            plots / f"{dataset}_sqi.png",
        )
    for dataset, splits_counts in counts.items():
        typer.echo(
            f"windows: {dataset}: "
            + ", ".join(
                f"{s} {c['windows']}/{c['candidates']} kept" for s, c in splits_counts.items()
            )
        )
    worst = min((v for v in audit["rejected"].values() if v is not None), default=float("nan"))
    typer.echo(
        f"windows: gate audit ({audit['ecg_method']} ECG / {audit['ppg_method']} PPG): kept "
        f"{audit['kept']['sinus']:.2f} of clean sinus, {audit['kept']['arrhythmic']:.2f} of "
        f"clean arrhythmic windows; rejected >= {worst:.2f} of each artefact"
    )
