"""``ttmbio pretrain``: masked signal modeling on the TTM encoder (``torchrun`` ready)."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import typer

from stages.common import ParamsOption, one_line_errors
from ttmbio.params import load_params


@one_line_errors
def pretrain(
    windows: Path = typer.Option(Path("data/windows"), help="window stores to read."),
    out: Path = typer.Option(Path("models/pretrain"), help="checkpoint folder to write whole."),
    work: Path = typer.Option(
        Path("checkpoints/pretrain"), help="checkpoints while training (kept for --resume)."
    ),
    metrics: Path = typer.Option(Path("metrics/pretrain"), help="dvclive folder."),
    plots: Path = typer.Option(Path("plots/pretrain"), help="folder for PNG curves."),
    params: Path = ParamsOption,
) -> None:
    """Pretrain the encoder on VitalDB windows; under torchrun, one process per device."""
    cfg = load_params(params)
    from ttmbio.plots import plot_curves
    from ttmbio.training.distributed import barrier, init_distributed, shutdown

    info = init_distributed()
    try:
        summary, live = _train(cfg, windows, work, out, metrics, info)
        # every rank frees its DDP model while the process group still exists: a reducer
        # destroyed after destroy_process_group can hang on gloo's worker threads
        gc.collect()
        barrier(info)
        if live is not None:
            from ttmbio.ssl.probe import pretrain_probe

            probe = (
                pretrain_probe(cfg, windows, out / "best.pt") if cfg.pretrain.probe_tasks else {}
            )
            live.summary.update(
                best_epoch=summary.best_epoch,
                best_val_nmse=summary.val_nmse,
                val_nmse_interp=summary.val_nmse_interp,
                nmse_ratio_to_interp=summary.nmse_ratio_to_interp,
                **probe,
            )
            live.end()
            history = json.loads((out / "history.json").read_text())
            plot_curves(
                history,
                {
                    "loss": ["train_loss", "val_loss"],
                    "parts": [
                        f"{split}_{part}"
                        for part in ("msm", "stft", "spectrum")
                        for split in ("train", "val")
                        if f"{split}_{part}" in history[0]
                    ],
                    "masked NMSE": ["val_nmse", "val_nmse_interp"],
                },
                "pretraining",
                plots / "curves.png",
            )
            typer.echo(
                f"pretrain: best epoch {summary.best_epoch}, val masked NMSE "
                f"{summary.val_nmse:.3f} vs linear interpolation "
                f"{summary.val_nmse_interp:.3f} "
                f"({summary.nmse_ratio_to_interp:.2f}x) -> {out}"
            )
            for key, value in probe.items():
                if key.startswith("probe_") and f"{key}_random" in probe:
                    random, amplitude = probe[f"{key}_random"], probe[f"{key}_log_std"]
                    typer.echo(
                        f"  frozen linear probe {key[6:]}: {value:.3f} (random init "
                        f"{random:.3f}, window log std alone {amplitude:.3f})"
                    )
    finally:
        shutdown(info)


def _train(
    cfg: Any, windows: Path, work: Path, out: Path, metrics: Path, info: Any
) -> tuple[Any, Any]:
    """Build and run the trainer; it (and its DDP wrapper) is released when this returns.

    The dvclive folder is made only once the trainer is built, so windows or params that
    cannot work are refused with no output written.
    """
    from dvclive import Live

    from ttmbio.ssl.pretrain import build_pretrainer, run_pretraining

    trainer = build_pretrainer(cfg, windows, info)
    live = Live(dir=str(metrics), save_dvc_exp=False, dvcyaml=None) if info.is_main else None
    return run_pretraining(trainer, work, out, live), live
