"""The windows stage: every split of every dataset into a zarr store, plus train statistics.

Recordings are processed in parallel but written in split-file order, so the stores are
byte-identical whatever ``windows.workers`` is. A recording that cannot be read or lacks a
channel is skipped and reported; the stage goes on with the others.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ttmbio.atomic import atomic_dir
from ttmbio.errors import CaseError, ConfigError, SourceError
from ttmbio.parallel import ordered_map
from ttmbio.params import SPLIT_NAMES, Params
from ttmbio.sources.base import Recording
from ttmbio.sources.registry import source_of
from ttmbio.splits.schema import CaseRow, SplitFile
from ttmbio.windows.kept import SpilledWindows, window_chunks
from ttmbio.windows.labels import EXCLUSION_NAMES as EXCLUSIONS
from ttmbio.windows.process import WindowBlock, process_recording
from ttmbio.windows.stats import channel_stats, write_stats
from ttmbio.windows.store import StoreWriter, WindowStore

Progress = Callable[[Iterable[Any], int, str], Iterator[Any]]


@dataclass(frozen=True)
class CaseJob:
    dataset: str
    row: CaseRow
    params: Params
    spill: Path | None = None  # folder for the case's kept windows (see windows.kept)


@dataclass
class CaseResult:
    case_id: str
    block: WindowBlock | None = None
    error: str | None = None


def load_recording(dataset: str, row: CaseRow, params: Params) -> Recording:
    """Read one split-file row with its dataset's reader (the API source downloads first)."""
    channels = params.windows.dataset(dataset).channels
    return source_of(dataset).load(row, channels, params)


def _process(job: CaseJob) -> CaseResult:
    case_id = job.row.case_id
    cfg = job.params.windows.dataset(job.dataset)
    try:
        rec = load_recording(job.dataset, job.row, job.params)
        block = process_recording(rec, cfg, job.params.windows, job.spill)
    except CaseError as err:
        message = str(err)
        if job.row.file not in message:
            message = f"{job.row.file}: {message}"
        return CaseResult(case_id, error=message)
    return CaseResult(case_id, block=block)


def _label_dtypes(rows: list[CaseRow], names: list[str]) -> dict[str, Any]:
    """Strings stay strings; everything else becomes float32 with NaN for missing."""
    dtypes: dict[str, Any] = {}
    for name in names:
        values = [r.attrs.get(name) for r in rows]
        dtypes[name] = str if any(isinstance(v, str) for v in values) else "float32"
    return dtypes


def _case_meta(block: WindowBlock, row: CaseRow, dtypes: dict[str, Any]) -> dict[str, np.ndarray]:
    n = len(block)
    meta = {
        "case_id": np.full(n, row.case_id, dtype=object).astype(str),
        "subject_id": np.full(n, row.subject_id, dtype=object).astype(str),
        **block.meta,
    }
    for name, dtype in dtypes.items():
        value = row.attrs.get(name)
        if dtype is str:
            meta[f"case_{name}"] = np.full(n, "" if value is None else str(value)).astype(str)
        else:
            meta[f"case_{name}"] = np.full(
                n, np.nan if value is None else float(value), dtype=np.float32
            )
    return meta


def _meta_dtypes(dataset: str, dtypes: dict[str, Any], params: Params) -> dict[str, Any]:
    """Every field a store of ``dataset`` holds, known before any recording is processed."""
    fields: dict[str, Any] = {"case_id": str, "subject_id": str, "start_s": "float64"}
    channels = params.windows.dataset(dataset).channels
    if "ECG" in channels:
        fields.update(hr_bpm="float32", ecg_sqi="float32")
    if "PPG" in channels:
        fields.update(n_cycles="float32", ppg_tsqi="float32", ppg_ssqi="float32")
    if "ABP" in channels:
        fields.update(map_mmhg="float32", hypotension="int8", hypotension_forecast="int8")
    fields.update({f"case_{k}": v for k, v in dtypes.items()})
    return fields


def _append_case(
    writer: StoreWriter, block: WindowBlock, meta: dict[str, np.ndarray], size: int
) -> None:
    """A recording's windows, a shard's worth at a time, so zarr never gets the whole case."""
    start = 0
    for part in window_chunks(block.signals, size):
        stop = start + len(part)
        writer.append(part, {k: v[start:stop] for k, v in meta.items()})
        start = stop


def _write_split(
    dataset: str,
    split: str,
    rows: list[CaseRow],
    params: Params,
    store_path: Path,
    progress: Progress,
) -> dict[str, Any]:
    cfg = params.windows.dataset(dataset)
    wp = params.windows
    dtypes = _label_dtypes(rows, cfg.case_labels)
    writer = StoreWriter(
        store_path,
        cfg.channels,
        wp.length,
        wp.fs,
        _meta_dtypes(dataset, dtypes, params),
        wp.shard_windows,
        wp.chunk_windows,
        attrs={"dataset": dataset, "split": split},
    )
    rejected: Counter[str] = Counter()
    skipped: list[dict[str, str]] = []
    candidates, cases_used = 0, 0
    forecast: Counter[int] = Counter()  # kept windows per hypotension_forecast label
    sqi: dict[str, list[np.ndarray]] = {}
    # the pool's workers write into the spill folder: close the pool (closing() ends the
    # generator, which waits for them) before the folder is removed, even on an error
    with (
        tempfile.TemporaryDirectory(prefix="ttmbio-windows-") as spill,
        closing(
            ordered_map(
                _process, [CaseJob(dataset, r, params, Path(spill)) for r in rows], wp.workers
            )
        ) as results,
    ):
        for row, result in zip(
            rows, progress(results, len(rows), f"{dataset}/{split}"), strict=True
        ):
            if result.block is None:
                skipped.append({"case_id": result.case_id, "reason": str(result.error)})
                continue
            block = result.block
            candidates += block.candidates
            rejected.update(block.rejected)
            for key, values in block.sqi_all.items():
                sqi.setdefault(key, []).append(values)
            if len(block):
                cases_used += 1
                _append_case(writer, block, _case_meta(block, row, dtypes), wp.shard_windows)
                if "hypotension_forecast" in block.meta:
                    forecast.update(block.meta["hypotension_forecast"].tolist())
            if isinstance(block.signals, SpilledWindows):
                block.signals.remove()
    n = writer.close()
    metrics: dict[str, Any] = {
        "windows": n,
        "candidates": candidates,
        "cases": cases_used,
        "cases_skipped": len(skipped),
        "rejected": {g: rejected.get(g, 0) for g in sorted(rejected)},
    }
    if "ABP" in cfg.channels:
        metrics["hypotension_forecast"] = {
            "positive": forecast.get(1, 0),
            "negative": forecast.get(0, 0),
            **{f"excluded_{name}": forecast.get(code, 0) for code, name in EXCLUSIONS.items()},
        }
    return {
        "metrics": metrics,
        "skipped": skipped,
        "sqi": {k: np.concatenate(v) for k, v in sqi.items()},
    }


def _check_split_file(split_doc: SplitFile, datasets: list[str]) -> None:
    """Every dataset read has cases in the split file, and train cases among them: the
    normalisation statistics come from train windows. Refuse before any work otherwise."""
    for dataset in datasets:
        if dataset not in split_doc.datasets:
            raise ConfigError(
                f"the split file lists no {dataset} cases (it has {sorted(split_doc.datasets)}), "
                "but data.datasets asks for them; re-run `ttmbio splits`"
            )
        if not split_doc.datasets[dataset].in_split("train"):
            used = split_doc.params
            param = "fasttrack_cases" if used.get("fasttrack") else "ratios"
            raise ConfigError(
                f"the split file gives no {dataset} case to the train split (splits.{param} "
                f"was {used.get(param)}), and the normalisation statistics come from train; "
                f"raise splits.{param}.train and re-run `ttmbio splits`"
            )


def _check_train_windows(dataset: str, train: dict[str, Any]) -> None:
    """A train split whose every window was rejected or skipped cannot normalise anything."""
    if train["windows"] == 0:
        rejected = ", ".join(f"{g} {n}" for g, n in train["rejected"].items()) or "none"
        raise SourceError(
            f"{dataset}: no train window kept ({train['candidates']} candidates, rejected: "
            f"{rejected}; {train['cases_skipped']} cases skipped); check the recordings, "
            f"or loosen windows.quality / windows.{dataset}.gates"
        )


def build_windows(
    params: Params, split_doc: SplitFile, out: Path, progress: Progress
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write ``out/<dataset>/<split>.zarr`` and ``stats.json``; return (metrics, report)."""
    metrics: dict[str, Any] = {}
    report: dict[str, Any] = {"skipped": {}, "sqi": {}}
    _check_split_file(split_doc, params.data.datasets)
    with atomic_dir(out) as tmp:
        for dataset in params.data.datasets:
            cases = split_doc.datasets[dataset]
            folder = tmp / dataset
            folder.mkdir()
            metrics[dataset], report["skipped"][dataset] = {}, []
            sqi: dict[str, list[np.ndarray]] = {}
            for split in SPLIT_NAMES:
                split_rows = cases.in_split(split)
                result = _write_split(
                    dataset, split, split_rows, params, folder / f"{split}.zarr", progress
                )
                metrics[dataset][split] = result["metrics"]
                if split == "train":
                    _check_train_windows(dataset, result["metrics"])
                report["skipped"][dataset] += [{**s, "split": split} for s in result["skipped"]]
                for key, values in result["sqi"].items():
                    sqi.setdefault(key, []).append(values)
            report["sqi"][dataset] = {k: np.concatenate(v) for k, v in sqi.items()}
            write_stats(folder, channel_stats(WindowStore(folder / "train.zarr")))
    return metrics, report
