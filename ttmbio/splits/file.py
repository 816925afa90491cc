"""Build and read the split file: which case of which dataset goes to train, val or test.

The file records its provenance (the splits params, the sources indexed, what was skipped and
why) so that a split can be audited and reproduced without re-running the stage.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ttmbio import __version__
from ttmbio.errors import SourceError
from ttmbio.params import SPLIT_NAMES, Params
from ttmbio.sources import index_butppg, index_vitaldb
from ttmbio.sources.base import CaseEntry, SourceIndex
from ttmbio.splits.assign import UNUSED, SplitResult, assign_folds, assign_splits, fasttrack_targets

FORMAT = "ttmbio.splits/1"


def _case_set_filter(index: SourceIndex, required_tracks: list[str]) -> tuple[list[CaseEntry], int]:
    keep = [c for c in index.cases if set(required_tracks) <= set(c.tracks)]
    return keep, len(index.cases) - len(keep)


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
) -> tuple[dict[str, Any], dict[str, Any]]:
    rows = [
        {
            "case_id": c.case_id,
            "subject_id": c.subject_id,
            "file": c.file,
            "split": result.split[c.case_id],
            "fold": result.fold.get(c.case_id),
            "attrs": c.attrs,
        }
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
    doc = {
        "source": source,
        "cases": rows,
        "warnings": result.warnings,
        "skipped": [vars(s) for s in index.skipped],
        "notes": index.notes,
    }
    return doc, metrics


def build_split_file(params: Params) -> tuple[dict[str, Any], dict[str, Any]]:
    """Index both sources, assign splits; return (split file document, metrics)."""
    sp, data = params.splits, params.data
    vital_index = index_vitaldb(data.vitaldb)
    vital_cases, excluded = _case_set_filter(
        vital_index, data.vitaldb.case_sets[sp.vitaldb.case_set]
    )
    if data.vitaldb.max_cases is not None:
        vital_cases = vital_cases[: data.vitaldb.max_cases]
    but_index = index_butppg(data.butppg)
    datasets = {
        "vitaldb": (
            vital_index,
            vital_cases,
            sp.vitaldb,
            sp.fasttrack,
            excluded,
            data.vitaldb.model_dump(mode="json"),
        ),
        "butppg": (
            but_index,
            but_index.cases,
            sp.butppg,
            False,
            0,
            data.butppg.model_dump(mode="json"),
        ),
    }
    doc: dict[str, Any] = {
        "format": FORMAT,
        "ttmbio_version": __version__,
        "params": sp.model_dump(mode="json"),
        "datasets": {},
    }
    metrics: dict[str, Any] = {}
    for name, (index, cases, split_cfg, fasttrack, excl, source) in datasets.items():
        if not cases:
            raise SourceError(
                f"{source['path']}: no usable {name} cases "
                f"({len(index.skipped)} skipped, {excl} outside the case set); "
                f"check data.{name} and splits.{name}"
            )
        result = _split_dataset(cases, params, split_cfg.stratify_by, fasttrack)
        doc["datasets"][name], metrics[name] = _dataset_doc(
            index, cases, result, source, excl, split_cfg.summarize
        )
    return doc, metrics


def read_split_file(path: Path) -> dict[str, Any]:
    """Load a split file written by :func:`build_split_file`, checking its format tag."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: split file not found; run `ttmbio splits` (or dvc repro)")
    doc = json.loads(path.read_text())
    if doc.get("format") != FORMAT:
        raise SourceError(f"{path}: not a {FORMAT} split file; re-run `ttmbio splits`")
    return doc


def cases_in(doc: dict[str, Any], dataset: str, split: str) -> list[dict[str, Any]]:
    """Rows of ``dataset`` assigned to ``split``, in file order."""
    return [row for row in doc["datasets"][dataset]["cases"] if row["split"] == split]
