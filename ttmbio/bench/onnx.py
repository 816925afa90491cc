"""The exported ONNX graph in onnxruntime (CPU) beside torch: throughput at batch 256 with
every core, latency of one window on one thread, and dynamic int8 quantisation's size and
test AUROC against float32.

The graph is exported to a temporary folder from the fine-tuned model under test, so the
figures need no ``ttmbio export`` run first.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from ttmbio.export.onnx import SCORE, OnnxScorer, export_onnx, quiet_logs
from ttmbio.finetune.inference import LoadedModel
from ttmbio.windows.dataset import WindowDataset


def _windows(loaded: LoadedModel, store: Path) -> tuple[np.ndarray, np.ndarray]:
    ds = WindowDataset(store, loaded.channels, targets=[loaded.target])
    batch = ds.__getitems__(list(range(len(ds))))
    return np.ascontiguousarray(batch["x"].numpy()), batch[loaded.target].numpy()


def _batched(scorer: OnnxScorer, x: np.ndarray, batch: int) -> np.ndarray:
    """Scores of ``x`` in batches (a whole store at once could exhaust memory)."""
    return np.concatenate([scorer.run(x[i : i + batch])[SCORE] for i in range(0, len(x), batch)])


def _rate(fn: Callable[[], int], repeats: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        n = fn()
        out.append(n / (time.perf_counter() - start))
    return out


def _latency_ms(fn: Callable[[], object], calls: int) -> float:
    fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def onnx_rates(
    loaded: LoadedModel, store: Path, test_store: Path, repeats: int = 5, calls: int = 100
) -> dict[str, Any]:
    """Windows/s (batch 256, all threads) and one-window latency (1 thread) of torch and
    onnxruntime on ``store``'s windows; int8 quantisation's size and AUROC on ``test_store``
    (binary models)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    x, _ = _windows(loaded, store)
    n, batch = len(x), 256
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
        export_onnx(loaded, None, fp32)
        session = OnnxScorer(fp32)
        single = OnnxScorer(fp32, threads=1)

        def torch_all() -> int:
            for i in range(0, n, batch):
                loaded.score(torch.from_numpy(x[i : i + batch]))
            return n

        def onnx_all() -> int:
            for i in range(0, n, batch):
                session.run(x[i : i + batch])
            return n

        rates = {"torch": [], "onnx": []}
        for _ in range(repeats):  # interleaved: a slow spell hits both alike
            rates["torch"] += _rate(torch_all, 1)
            rates["onnx"] += _rate(onnx_all, 1)
        one = x[:1]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            torch_ms = _latency_ms(lambda: loaded.score(torch.from_numpy(one)), calls)
        finally:
            torch.set_num_threads(threads)
        onnx_ms = _latency_ms(lambda: single.run(one), calls)
        report: dict[str, Any] = {
            "torch_windows_per_s": statistics.median(rates["torch"]),
            "onnx_windows_per_s": statistics.median(rates["onnx"]),
            "onnx_vs_torch": statistics.median(
                o / t for o, t in zip(rates["onnx"], rates["torch"], strict=True)
            ),
            "torch_latency_ms": torch_ms,
            "onnx_latency_ms": onnx_ms,
            "windows": n,
            "batch_size": batch,
            "threads": threads,
            "fp32_mb": fp32.stat().st_size / 1e6,
        }
        with quiet_logs():
            quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        report["int8_mb"] = int8.stat().st_size / 1e6
        if loaded.kind == "binary":
            xt, y = _windows(loaded, test_store)
            known = y >= 0
            if known.any() and len(np.unique(y[known])) == 2:
                p32 = _batched(session, xt, batch)[known]
                p8 = _batched(OnnxScorer(int8), xt, batch)[known]
                report["auroc_fp32"] = float(roc_auc_score(y[known], p32))
                report["auroc_int8"] = float(roc_auc_score(y[known], p8))
                report["int8_max_abs_dp"] = float(np.abs(p8 - p32).max())
    return report
