"""Build and write the split file: which case of which dataset goes to train, val or
test (and which cross-validation fold).

The file records its provenance (the splits params, the sources indexed, what was skipped and
why) so that a split can be audited and reproduced without re-running the stage. Its schema,
and the reader every later stage uses, are in :mod:`ttmbio.splits.schema`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ttmbio import __version__
from ttmbio.atomic import atomic_write_json
from ttmbio.errors import SourceError
from ttmbio.params import SPLIT_NAMES, DatasetSplit, Params
from ttmbio.sources.base import CaseEntry, SourceIndex
from ttmbio.sources.registry import source_of
from ttmbio.splits.assign import UNUSED, SplitResult, assign_folds, assign_splits, fasttrack_targets
from ttmbio.splits.schema import CaseRow, DatasetSplits, SplitFile


class SplitsReport(BaseModel):
    """What ``ttmbio splits`` did: where the file went, per-dataset counts (the metrics file)
    and every warning, skipped case and note, one line each."""

    model_config = ConfigDict(frozen=True)

    split_file: Path
    metrics: dict[str, Any]
    warnings: list[str]


def _split_dataset(
    cases: list[CaseEntry], params: Params, stratify_by: str | None, fasttrack: bool
) -> SplitResult:
    sp = params.splits
    if fasttrack:
        counts, warning = fasttrack_targets(len(cases), sp.fasttrack_cases)
        result = assign_splits(cases, sp.seed, counts=counts, stratify_by=stratify_by)
        if warning:
            result.warnings.insert(0, warning)
    else:
        result = assign_splits(cases, sp.seed, ratios=sp.ratios, stratify_by=stratify_by)
    if sp.k_folds:
        pool = [c for c in cases if result.split[c.case_id] in ("train", "val")]
        result.fold = assign_folds(pool, sp.k_folds, sp.seed, stratify_by)
    return result


def _column_means(members: list[CaseEntry], columns: list[str]) -> dict[str, float]:
    """Mean of each numeric case attribute over ``members`` (cases lacking it are ignored)."""
    means = {}
    for column in columns:
        values = [
            v
            for c in members
            if isinstance(v := c.attrs.get(column), int | float)
            and not isinstance(v, bool)
            and v == v
        ]
        if values:
            means[f"{column}_mean"] = round(sum(values) / len(values), 4)
    return means


def _dataset_doc(
    index: SourceIndex,
    cases: list[CaseEntry],
    result: SplitResult,
    source: dict[str, Any],
    excluded: int,
    summarize: list[str],
) -> tuple[DatasetSplits, dict[str, Any]]:
    rows = [
        CaseRow(
            case_id=c.case_id,
            subject_id=c.subject_id,
            file=c.file,
            split=result.split[c.case_id],
            fold=result.fold.get(c.case_id),
            attrs=c.attrs,
        )
        for c in cases
    ]
    metrics: dict[str, Any] = {}
    for split in (*SPLIT_NAMES, UNUSED):
        members = [c for c in cases if result.split[c.case_id] == split]
        metrics[split] = {
            "cases": len(members),
            "subjects": len({c.subject_id for c in members}),
            **_column_means(members, summarize),
        }
    metrics["skipped"] = len(index.skipped)
    metrics["excluded_by_case_set"] = excluded
    if result.fold:
        metrics["folds"] = {str(k): v for k, v in sorted(Counter(result.fold.values()).items())}
    doc = DatasetSplits(
        source=source,
        cases=rows,
        warnings=result.warnings,
        skipped=[vars(s) for s in index.skipped],
        notes=index.notes,
    )
    return doc, metrics


def build_split_file(params: Params) -> tuple[SplitFile, dict[str, Any]]:
    """Index every dataset of ``data.datasets``, assign splits; return (document, metrics)."""
    parts: dict[str, DatasetSplits] = {}
    metrics: dict[str, Any] = {}
    for name in params.data.datasets:
        source = source_of(name)
        config = params.data.dataset(name)
        index = source.index(params)
        cases, excluded = source.select(index, params)
        if not cases:
            raise SourceError(
                f"{config.path}: no usable {name} cases "
                f"({len(index.skipped)} skipped, {excluded} outside the case set); "
                f"check data.{name} and splits.{name}"
            )
        split_cfg: DatasetSplit = getattr(params.splits, name)
        fasttrack = params.splits.fasttrack and source.fasttrack
        result = _split_dataset(cases, params, split_cfg.stratify_by, fasttrack)
        parts[name], metrics[name] = _dataset_doc(
            index, cases, result, config.model_dump(mode="json"), excluded, split_cfg.summarize
        )
    doc = SplitFile(
        ttmbio_version=__version__, params=params.splits.model_dump(mode="json"), datasets=parts
    )
    return doc, metrics


def write_split_file(params: Params, out: Path, metrics_path: Path) -> SplitsReport:
    """Build the split file and write it and its metrics (each whole or not at all)."""
    doc, metrics = build_split_file(params)
    warnings = []
    for name, dataset in doc.datasets.items():
        warnings += [f"{name}: {w}" for w in dataset.warnings]
        warnings += [f"skipped {s.reason}" for s in dataset.skipped]
        warnings += dataset.notes
    atomic_write_json(out, doc.model_dump())  # NaN attrs stay NaN, as before
    atomic_write_json(metrics_path, metrics)
    return SplitsReport(split_file=out, metrics=metrics, warnings=warnings)
