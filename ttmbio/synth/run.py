"""The synth stage as a library call: the embedded default dataset, its summary metrics and
the line ``ttmbio synth`` prints."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ttmbio.atomic import atomic_write_json
from ttmbio.params import SynthParams
from ttmbio.synth.dataset import synthesize

Progress = Callable[[Iterable[Any], int, str], Iterator[Any]]


class SynthReport(BaseModel):
    """What ``ttmbio synth`` wrote: the raw folder and its summary (the metrics file)."""

    model_config = ConfigDict(frozen=True)

    out: Path
    summary: dict[str, Any]

    def line(self) -> str:
        v, b = self.summary["vitaldb"], self.summary["butppg"]
        path = v["pathology"]
        return (
            f"synth: {v['cases']} VitalDB cases ({v['hours']} h, "
            f"{v['hypotension_fraction']:.1%} hypotensive; PVCs in {path['cases_with_pvc']}, "
            f"PACs in {path['cases_with_pac']}, AF in {path['cases_with_af']}, low perfusion in "
            f"{path['cases_low_perfusion']}) and {b['records']} BUT-PPG records "
            f"({b['good_fraction']:.0%} good, {b['label_flips']} labels flipped) in {self.out}"
        )


def write_synth(
    cfg: SynthParams, out: Path, metrics: Path, progress: Progress | None = None
) -> SynthReport:
    """Write the default dataset into ``out`` (whole or not at all) and its summary."""
    summary = synthesize(cfg, out) if progress is None else synthesize(cfg, out, progress)
    atomic_write_json(metrics, summary)
    return SynthReport(out=out, summary=summary)
