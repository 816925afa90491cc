"""``ttmbio synth``: write the embedded default dataset (synthetic, in real formats)."""

from __future__ import annotations

from pathlib import Path

import typer

from stages.common import ParamsOption, one_line_errors, progress
from ttmbio.atomic import atomic_write_json
from ttmbio.params import load_params


@one_line_errors
def synth(
    out: Path = typer.Option(Path("data/raw"), help="folder to (re)write whole."),
    metrics: Path = typer.Option(Path("metrics/synth.json"), help="summary metrics file."),
    params: Path = ParamsOption,
) -> None:
    """Simulate VitalDB cases (.vital) and BUT-PPG records (WFDB) from the synth params."""
    cfg = load_params(params).synth
    from ttmbio.synth.dataset import synthesize  # heavy imports only when the stage runs

    summary = synthesize(cfg, out, progress=progress)
    atomic_write_json(metrics, summary)
    v, b = summary["vitaldb"], summary["butppg"]
    path = v["pathology"]
    typer.echo(
        f"synth: {v['cases']} VitalDB cases ({v['hours']} h, "
        f"{v['hypotension_fraction']:.1%} hypotensive; PVCs in {path['cases_with_pvc']}, "
        f"PACs in {path['cases_with_pac']}, AF in {path['cases_with_af']}, low perfusion in "
        f"{path['cases_low_perfusion']}) and {b['records']} BUT-PPG records "
        f"({b['good_fraction']:.0%} good, {b['label_flips']} labels flipped) in {out}"
    )
