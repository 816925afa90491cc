"""Windowing throughput (x real time per core) and the windows stage's peak memory.

Both run the windows stage's own per-split path (:func:`ttmbio.windows.build._write_split`:
read ``.vital`` → resample, filter, gate → write zarr) on the VitalDB cases of a split file.
Peak memory is measured in a fresh process per run, with one worker, so the number is the
whole stage's footprint and comparable between N and 4N cases. On Linux it is the process's
own high-water mark (``VmHWM``): ``ru_maxrss`` of a spawned process also counts its parent's
peak, because Linux carries the parent's high-water mark across the ``exec``, so a bench that
had just written a 12-hour case would have measured itself.
"""

from __future__ import annotations

import multiprocessing as mp
import platform
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from queue import Empty
from typing import Any

import numpy as np

from ttmbio.errors import SourceError
from ttmbio.gc_tuning import lighten_gc
from ttmbio.params import Params
from ttmbio.sources.vital_dir import read_track_names
from ttmbio.splits.schema import CaseRow, SplitFile
from ttmbio.windows.blocks import RecordingSignals, cut_windows, plan_blocks
from ttmbio.windows.build import _write_split, load_recording


def _no_progress(items: Any, total: int, label: str) -> Any:
    return items


def vitaldb_rows(split_doc: SplitFile, n: int) -> list[CaseRow]:
    rows = split_doc.datasets["vitaldb"].cases
    if len(rows) < n:
        raise SourceError(
            f"the split file lists {len(rows)} VitalDB cases, the benchmark needs {n}; run "
            "`dvc repro splits` on a larger dataset or use --quick"
        )
    return rows[:n]


def recorded_seconds(rows: list[CaseRow]) -> float:
    """Total recording time of ``rows`` from the files' headers (no samples read)."""
    return sum(read_track_names(Path(r.file))[1] for r in rows)


def _with_workers(params: Params, workers: int) -> Params:
    windows = params.windows.model_copy(update={"workers": workers})
    return params.model_copy(update={"windows": windows})


def _write(params: Params, rows: list[CaseRow], folder: Path) -> int:
    result = _write_split("vitaldb", "bench", rows, params, folder / "bench.zarr", _no_progress)
    return int(result["metrics"]["windows"])


def _floor_case(params: Params, row: CaseRow) -> int:
    """Read, resample, filter and cut one case's candidate windows (no gates, no writing)."""
    wp, cfg = params.windows, params.windows.vitaldb
    rec = load_recording("vitaldb", row, params)
    plan = plan_blocks(rec, cfg, wp)
    signals = RecordingSignals(rec, cfg, wp, plan)
    n = 0
    for block in plan.blocks:
        _, filtered = signals.block(block)
        local = plan.block_starts(block) - block.ext_start
        n += len(np.ascontiguousarray(cut_windows(filtered, local, wp.length)))
    return n


def floor_throughput(params: Params, rows: list[CaseRow], repeats: int) -> dict[str, Any]:
    """x real time of the windowing floor -- read, resample, filter, cut -- on one core."""
    seconds = recorded_seconds(rows)
    walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        for row in rows:
            _floor_case(params, row)
        walls.append(time.perf_counter() - start)
    wall = statistics.median(walls)
    return {"cases": len(rows), "wall_s": wall, "x_realtime_per_core": seconds / wall}


def windowing_throughput(
    params: Params, rows: list[CaseRow], workers: list[int], repeats: int
) -> dict[str, Any]:
    """x real time per core for each worker count: recorded seconds / (wall s x workers)."""
    seconds = recorded_seconds(rows)
    out: dict[str, Any] = {"cases": len(rows), "recorded_hours": seconds / 3600}
    with tempfile.TemporaryDirectory(prefix="ttmbio-bench-") as tmp:
        for w in workers:
            p = _with_workers(params, w)
            walls = []
            for r in range(repeats):
                folder = Path(tmp) / f"w{w}-{r}"
                folder.mkdir()
                start = time.perf_counter()
                _write(p, rows, folder)
                walls.append(time.perf_counter() - start)
                shutil.rmtree(folder)
            wall = statistics.median(walls)
            out[f"workers_{w}"] = {
                "wall_s": wall,
                "x_realtime": seconds / wall,
                "x_realtime_per_core": seconds / (wall * w),
            }
    if len(workers) > 1:
        lo, hi = min(workers), max(workers)
        out["speedup"] = out[f"workers_{lo}"]["wall_s"] / out[f"workers_{hi}"]["wall_s"]
    return out


def _child(params: Params, rows: list[CaseRow], queue: Any) -> None:
    lighten_gc()  # as in the ``ttmbio`` console script, which runs the stage
    with tempfile.TemporaryDirectory(prefix="ttmbio-rss-") as tmp:
        _write(_with_workers(params, 1), rows, Path(tmp))
    queue.put(own_peak_rss_bytes())


def own_peak_rss_bytes() -> int:
    """This process's peak resident memory since its ``exec``, not counting its parent's."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    scale = 1 if platform.system() == "Darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def peak_rss_bytes(params: Params, rows: list[CaseRow]) -> int:
    """Peak resident memory of a fresh process windowing ``rows`` (one worker)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(params, rows, queue))
    proc.start()
    while True:  # a child that dies (out of memory, say) must not leave us waiting
        try:
            peak = queue.get(timeout=1.0)
            break
        except Empty:
            if not proc.is_alive():
                try:  # it may have put its figure and exited since the timeout
                    peak = queue.get(timeout=1.0)
                    break
                except Empty:
                    raise RuntimeError(f"windowing child exited with {proc.exitcode}") from None
    proc.join(timeout=60)
    if proc.exitcode != 0:
        raise RuntimeError(f"windowing child exited with {proc.exitcode}")
    return int(peak)


def windows_memory(params: Params, split_doc: SplitFile, n: int, repeats: int) -> dict[str, Any]:
    """Peak RSS for N and 4N cases (medians over ``repeats`` fresh processes) and their ratio."""
    small, large = vitaldb_rows(split_doc, n), vitaldb_rows(split_doc, 4 * n)
    rss_n = statistics.median(peak_rss_bytes(params, small) for _ in range(repeats))
    rss_4n = statistics.median(peak_rss_bytes(params, large) for _ in range(repeats))
    return {
        "cases_n": n,
        "peak_rss_n_mb": rss_n / 2**20,
        "peak_rss_4n_mb": rss_4n / 2**20,
        "ratio_4n_to_n": rss_4n / rss_n,
    }
