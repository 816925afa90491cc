"""``ttmbio synth``: write the embedded default dataset (synthetic, in real formats)."""

from __future__ import annotations

from pathlib import Path

import typer

from ttmbio.params import load_params
from ttmbio_stages.common import ParamsOption, one_line_errors, progress


@one_line_errors
def synth(
    out: Path = typer.Option(Path("data/raw"), help="folder to (re)write whole."),
    metrics: Path = typer.Option(Path("metrics/synth.json"), help="summary metrics file."),
    params: Path = ParamsOption,
) -> None:
    """Simulate VitalDB cases (.vital) and BUT-PPG records (WFDB) from the synth params."""
    cfg = load_params(params).synth
    from ttmbio.synth.run import write_synth  # heavy imports only when the stage runs

    typer.echo(write_synth(cfg, out, metrics, progress).line())
