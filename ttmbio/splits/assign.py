"""Subject-level train/val/test splits (spec 000) and optional k-fold assignment.

No subject ever appears in two splits: whole subjects are assigned, greedily, to the split
furthest below its target case count, in a seeded random order, separately within each
stratum when a case-level label is given. Fasttrack asks for absolute case counts (50/0/20)
and scales them down, with a warning, when fewer cases exist.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from ttmbio.errors import ConfigError
from ttmbio.params import SPLIT_NAMES
from ttmbio.sources.base import CaseEntry

UNUSED = "unused"


@dataclass
class SplitResult:
    """split per case id (``unused`` for fasttrack leftovers), folds, and warnings to show."""

    split: dict[str, str]
    fold: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def case_label(case: CaseEntry, stratify_by: str | None) -> str:
    """The stratification label as a string (``"nan"`` when the case lacks it)."""
    if stratify_by is None:
        return ""
    value = case.attrs.get(stratify_by)
    return "nan" if value is None or value != value else str(value)


def subject_groups(cases: Sequence[CaseEntry]) -> dict[str, list[CaseEntry]]:
    groups: dict[str, list[CaseEntry]] = defaultdict(list)
    for case in cases:
        groups[case.subject_id].append(case)
    return dict(sorted(groups.items()))


def _subject_label(cases: Sequence[CaseEntry], stratify_by: str | None) -> str:
    counts = Counter(case_label(c, stratify_by) for c in cases)
    return min(counts, key=lambda label: (-counts[label], label))


def fasttrack_targets(n_cases: int, wanted: Mapping[str, int]) -> tuple[dict[str, int], str | None]:
    """Absolute fasttrack case counts, scaled down proportionally when too few cases exist."""
    total = sum(wanted.values())
    if total <= n_cases:
        return dict(wanted), None
    scaled = {s: int(np.floor(wanted[s] * n_cases / total)) for s in SPLIT_NAMES}
    scaled["train"] += n_cases - sum(scaled.values()) if wanted["train"] else 0
    warning = (
        f"fasttrack asks for {'/'.join(str(wanted[s]) for s in SPLIT_NAMES)} "
        f"train/val/test cases but only {n_cases} exist; using "
        f"{'/'.join(str(scaled[s]) for s in SPLIT_NAMES)}"
    )
    return scaled, warning


def assign_splits(
    cases: Sequence[CaseEntry],
    seed: int,
    ratios: Mapping[str, float] | None = None,
    counts: Mapping[str, int] | None = None,
    stratify_by: str | None = None,
) -> SplitResult:
    """Assign whole subjects to splits by case-count ``ratios`` or absolute ``counts``.

    With ``counts`` (fasttrack) subjects left over once every split is full are ``unused``.
    """
    if (ratios is None) == (counts is None):
        raise ValueError("give exactly one of ratios or counts")
    groups = subject_groups(cases)
    n_total = len(cases)
    totals = (
        {s: ratios[s] * n_total for s in SPLIT_NAMES}
        if ratios is not None
        else {s: float(counts[s]) for s in SPLIT_NAMES}
    )  # type: ignore[index]
    strata: dict[str, list[str]] = defaultdict(list)
    for subject, members in groups.items():
        strata[_subject_label(members, stratify_by)].append(subject)
    rng = np.random.default_rng(seed)
    result = SplitResult(split={})
    filled = dict.fromkeys(SPLIT_NAMES, 0)
    seen = 0
    for label in sorted(strata):
        subjects = list(strata[label])
        rng.shuffle(subjects)
        # largest subjects first packs case counts closest to the targets
        subjects.sort(key=lambda s: -len(groups[s]))
        seen += sum(len(groups[s]) for s in subjects)
        # targets grow stratum by stratum, so each stratum is split in the ratios while
        # rounding left over in one stratum is made up in the next
        target = {s: totals[s] * seen / max(n_total, 1) for s in SPLIT_NAMES}
        for subject in subjects:
            deficit = {s: target[s] - filled[s] for s in SPLIT_NAMES if totals[s] > 0}
            choice = max(deficit, key=lambda s: (deficit[s], -SPLIT_NAMES.index(s)), default=UNUSED)
            if counts is not None and choice != UNUSED and deficit[choice] <= 0:
                choice = UNUSED
            if choice != UNUSED:
                filled[choice] += len(groups[subject])
            for case in groups[subject]:
                result.split[case.case_id] = choice
    used = Counter(result.split.values())
    for s in SPLIT_NAMES:
        if totals[s] > 0 and used[s] == 0:
            result.warnings.append(
                f"split {s!r} is empty ({len(groups)} subjects for "
                f"{sum(1 for v in totals.values() if v > 0)} splits)"
            )
    return result


def assign_folds(
    cases: Sequence[CaseEntry], k: int, seed: int, stratify_by: str | None = None
) -> dict[str, int]:
    """k subject-disjoint folds over ``cases`` (scikit-learn's group k-fold splitters)."""
    groups = [c.subject_id for c in cases]
    n_groups = len(set(groups))
    if n_groups < k:
        raise ConfigError(
            f"splits.folds: {k} folds need at least {k} subjects outside the test "
            f"split, found {n_groups}; use fewer folds"
        )
    x = np.zeros((len(cases), 1))
    if stratify_by is None:
        splitter = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
        folds = splitter.split(x, groups=groups)
    else:
        labels = [case_label(c, stratify_by) for c in cases]
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        folds = splitter.split(x, labels, groups=groups)
    fold_of: dict[str, int] = {}
    for fold, (_, held_out) in enumerate(folds):
        for i in held_out:
            fold_of[cases[i].case_id] = fold
    return fold_of
