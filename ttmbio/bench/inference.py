"""Inference throughput: the evaluate and predict paths against the bare TTM backbone.

Three rates on the same windows and batch size, medians over ``repeats`` interleaved rounds:

- ``backbone``: ``TinyTimeMixerModel(past_values=x)`` alone on tensors already in memory --
  the ceiling, what the model itself costs;
- ``evaluate``: :func:`ttmbio.finetune.inference.score_windows` over a zarr window store (read,
  decompress, normalise, encoder + head, sigmoid) -- the calibrate/evaluate path;
- ``predict``: :meth:`ttmbio.predict.scoring.Predictor.score` on normalised windows (encoder +
  head, sigmoid, calibration) -- the model side of ``ttmbio predict``.

The ratios ``evaluate / backbone`` and ``predict / backbone`` say how much the pipeline adds
around the model.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ttmbio.calibration.calibrator import Calibrator
from ttmbio.finetune.inference import LoadedModel, score_windows
from ttmbio.predict.scoring import Predictor
from ttmbio.windows.dataset import WindowDataset


def _paired_rates(fns: dict[str, Callable[[], int]], repeats: int) -> dict[str, list[float]]:
    """Windows/s of each ``fn`` over ``repeats`` rounds (after one warm-up round). Each round
    runs every path once, back to back, so a slow spell on a shared machine hits all paths of
    that round alike and the per-round ratios stay fair."""
    for fn in fns.values():
        fn()
    rates: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            n = fn()
            rates[name].append(n / (time.perf_counter() - start))
    return rates


def inference_rates(
    loaded: LoadedModel,
    store: Path,
    batch_size: int = 256,
    repeats: int = 5,
    calibrator: Calibrator | None = None,
) -> dict[str, Any]:
    """Windows/s of the backbone, evaluate and predict paths on ``store``'s windows."""
    ds = WindowDataset(store, loaded.channels, targets=[loaded.target])
    n = len(ds)
    x = ds.__getitems__(list(range(n)))["x"]  # normalised [n, C, T], in memory
    backbone = loaded.model.encoder.backbone
    series = x.transpose(1, 2).contiguous()  # [n, T, C], as TTM takes it

    @torch.no_grad()
    def bare() -> int:
        backbone.eval()
        for i in range(0, n, batch_size):
            backbone(past_values=series[i : i + batch_size]).last_hidden_state  # noqa: B018
        return n

    def evaluate() -> int:
        fresh = WindowDataset(store, loaded.channels, targets=[loaded.target])  # cold cache
        score_windows(
            loaded.model, fresh, loaded.target, loaded.kind, loaded.target_scale, None, batch_size
        )
        return n

    predictor = Predictor(loaded, calibrator, batch_size)
    windows = np.ascontiguousarray(x.numpy())

    def predict() -> int:
        predictor.score(windows)
        return n

    rates = _paired_rates({"backbone": bare, "evaluate": evaluate, "predict": predict}, repeats)
    base = rates["backbone"]
    return {
        **{f"{k}_windows_per_s": statistics.median(v) for k, v in rates.items()},
        **{
            f"{k}_vs_backbone": statistics.median(r / b for r, b in zip(v, base, strict=True))
            for k, v in rates.items()
            if k != "backbone"
        },
        "windows": n,
        "batch_size": batch_size,
        "channels": len(loaded.channels),
        "torch_threads": torch.get_num_threads(),
        "repeats": repeats,
    }
