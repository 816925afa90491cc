"""The pretrain stage as a library call: train (under ``torchrun`` too), probe the frozen
encoder, log the summary and plot the curves.

:func:`run_pretrain_stage` does everything ``ttmbio pretrain`` does and returns a
:class:`PretrainReport`; the CLI only hands it a logger factory and prints the report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ttmbio.params import Params
from ttmbio.plots import plot_curves
from ttmbio.ssl.summary import PretrainSummary
from ttmbio.training.distributed import DistInfo, process_group, settle
from ttmbio.training.engine import RunLogger


class PretrainReport(BaseModel):
    """What ``ttmbio pretrain`` wrote: the model folder, its summary and the frozen-encoder
    linear probes (``probe_<task>`` with ``_random`` and ``_log_std`` references)."""

    model_config = ConfigDict(frozen=True)

    out: Path
    summary: PretrainSummary
    probe: dict[str, float]

    def lines(self) -> list[str]:
        s = self.summary
        out = [
            f"pretrain: best epoch {s.best_epoch}, val masked NMSE {s.val_nmse:.3f} vs linear "
            f"interpolation {s.val_nmse_interp:.3f} ({s.nmse_ratio_to_interp:.2f}x) -> {self.out}"
        ]
        for key, value in self.probe.items():
            if key.startswith("probe_") and f"{key}_random" in self.probe:
                random, amplitude = self.probe[f"{key}_random"], self.probe[f"{key}_log_std"]
                out.append(
                    f"  frozen linear probe {key[6:]}: {value:.3f} (random init "
                    f"{random:.3f}, window log std alone {amplitude:.3f})"
                )
        return out


def run_pretrain_stage(
    params: Params,
    windows: Path,
    work: Path,
    out: Path,
    plots: Path,
    new_logger: Callable[[], RunLogger],
) -> PretrainReport | None:
    """Pretrain into ``out`` (whole at the end; resumable from ``work``), then probe, log and
    plot. Returns None in the ``torchrun`` processes other than the first (they write
    nothing). ``new_logger`` is called once the run is built, so windows or params that
    cannot work are refused with nothing written."""
    from ttmbio.ssl.probe import pretrain_probe

    with process_group() as info:
        summary, logger = _train(params, windows, work, out, new_logger, info)
        settle(info)
        if logger is None or summary is None:
            return None
        probe = {}
        if params.pretrain.probe_tasks:
            probe = pretrain_probe(params, windows, out / "best.pt")
        logger.summary.update(
            best_epoch=summary.best_epoch,
            best_val_nmse=summary.val_nmse,
            val_nmse_interp=summary.val_nmse_interp,
            nmse_ratio_to_interp=summary.nmse_ratio_to_interp,
            **probe,
        )
        logger.end()
    plot_pretrain_curves(json.loads((out / "history.json").read_text()), plots / "curves.png")
    return PretrainReport(out=out, summary=summary, probe=probe)


def plot_pretrain_curves(history: list[dict[str, float]], png: Path) -> None:
    """Loss, its parts (masked MSE, STFT, spectrum; train and val) and masked NMSE."""
    parts = [
        f"{split}_{part}"
        for part in ("msm", "stft", "spectrum")
        for split in ("train", "val")
        if f"{split}_{part}" in history[0]
    ]
    panels = {
        "loss": ["train_loss", "val_loss"],
        "parts": parts,
        "masked NMSE": ["val_nmse", "val_nmse_interp"],
    }
    plot_curves(history, panels, "pretraining", png)


def _train(
    params: Params,
    windows: Path,
    work: Path,
    out: Path,
    new_logger: Callable[[], RunLogger],
    info: DistInfo,
) -> tuple[PretrainSummary | None, RunLogger | None]:
    """Build and run the trainer; it (and its DDP wrapper) is released when this returns."""
    from ttmbio.ssl.pretrain import build_pretrainer, run_pretraining

    trainer = build_pretrainer(params, windows, info)
    logger = new_logger() if info.is_main else None
    return run_pretraining(trainer, work, out, logger), logger
