from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest

from ttmbio.errors import ConfigError
from ttmbio.sources.base import CaseEntry
from ttmbio.splits.assign import UNUSED, assign_folds, assign_splits, fasttrack_targets

RATIOS = {"train": 0.7, "val": 0.15, "test": 0.15}


def make_cases(n_subjects: int = 60, seed: int = 0, label_share: float = 0.3) -> list[CaseEntry]:
    """Subjects with 1-3 cases each; a binary case label constant within a subject."""
    rng = np.random.default_rng(seed)
    cases = []
    for s in range(n_subjects):
        label = int(rng.random() < label_share)
        for _ in range(int(rng.integers(1, 4))):
            cases.append(
                CaseEntry("vitaldb", str(len(cases) + 1), f"s{s}", "f", attrs={"asa": label})
            )
    return cases


def subjects_by_split(cases: list[CaseEntry], split: dict[str, str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for c in cases:
        out[split[c.case_id]].add(c.subject_id)
    return out


def test_no_subject_in_two_splits_and_every_case_assigned() -> None:
    cases = make_cases()
    result = assign_splits(cases, seed=1, ratios=RATIOS)
    assert set(result.split) == {c.case_id for c in cases}
    groups = subjects_by_split(cases, result.split)
    assert set(groups) == {"train", "val", "test"}
    assert not groups["train"] & groups["val"]
    assert not groups["train"] & groups["test"]
    assert not groups["val"] & groups["test"]


def test_case_counts_follow_the_ratios() -> None:
    cases = make_cases(n_subjects=200)
    counts = Counter(assign_splits(cases, seed=3, ratios=RATIOS).split.values())
    for split, ratio in RATIOS.items():
        assert abs(counts[split] / len(cases) - ratio) < 0.02, counts


def test_same_seed_same_split_other_seed_other_split() -> None:
    cases = make_cases()
    a = assign_splits(cases, seed=5, ratios=RATIOS).split
    assert a == assign_splits(cases, seed=5, ratios=RATIOS).split
    assert a != assign_splits(cases, seed=7, ratios=RATIOS).split


def test_stratification_keeps_label_shares_per_split() -> None:
    cases = make_cases(n_subjects=300, label_share=0.2)
    split = assign_splits(cases, seed=2, ratios=RATIOS, stratify_by="asa").split
    overall = np.mean([c.attrs["asa"] for c in cases])
    for name in RATIOS:
        share = np.mean([c.attrs["asa"] for c in cases if split[c.case_id] == name])
        assert abs(share - overall) < 0.03, (name, share, overall)


def test_zero_ratio_split_stays_empty() -> None:
    cases = make_cases()
    split = assign_splits(cases, seed=1, ratios={"train": 0.8, "val": 0.0, "test": 0.2}).split
    assert "val" not in split.values()


def test_fasttrack_takes_absolute_counts_and_leaves_the_rest_unused() -> None:
    cases = [CaseEntry("vitaldb", str(i), f"s{i}", "f") for i in range(100)]
    counts, warning = fasttrack_targets(len(cases), {"train": 50, "val": 0, "test": 20})
    assert warning is None
    result = Counter(assign_splits(cases, seed=0, counts=counts).split.values())
    assert result == {"train": 50, "test": 20, UNUSED: 30}


def test_fasttrack_scales_down_with_a_warning() -> None:
    counts, warning = fasttrack_targets(35, {"train": 50, "val": 0, "test": 20})
    assert counts == {"train": 25, "val": 0, "test": 10}
    assert warning is not None and "only 35 exist" in warning and "25/0/10" in warning


def test_too_few_subjects_warn_about_empty_split() -> None:
    cases = [CaseEntry("vitaldb", str(i), "s0", "f") for i in range(5)]
    result = assign_splits(cases, seed=0, ratios=RATIOS)
    assert len(set(result.split.values())) == 1
    assert any("is empty" in w for w in result.warnings)


@pytest.mark.parametrize("stratify_by", [None, "asa"])
def test_folds_are_subject_disjoint_and_cover_every_case(stratify_by: str | None) -> None:
    cases = make_cases(n_subjects=50)
    folds = assign_folds(cases, k=5, seed=0, stratify_by=stratify_by)
    assert set(folds) == {c.case_id for c in cases} and set(folds.values()) == set(range(5))
    fold_of_subject: dict[str, set[int]] = defaultdict(set)
    for c in cases:
        fold_of_subject[c.subject_id].add(folds[c.case_id])
    assert all(len(f) == 1 for f in fold_of_subject.values())
    sizes = Counter(folds.values())
    assert all(abs(n - len(cases) / 5) <= 0.3 * len(cases) / 5 for n in sizes.values())
    assert folds == assign_folds(cases, k=5, seed=0, stratify_by=stratify_by)


def test_more_folds_than_subjects_is_a_config_error() -> None:
    cases = make_cases(n_subjects=3)
    with pytest.raises(ConfigError, match=r"splits\.folds: 5 folds need at least 5 subjects"):
        assign_folds(cases, k=5, seed=0)


def test_small_stratified_dataset_still_fills_every_split() -> None:
    cases = [
        CaseEntry("butppg", f"{s}{r}", f"s{s}", "f", attrs={"quality": s % 2})
        for s in range(6)
        for r in range(3)
    ]
    for seed in range(5):
        result = assign_splits(cases, seed=seed, ratios=RATIOS, stratify_by="quality")
        assert set(result.split.values()) == {"train", "val", "test"}, seed
        assert result.warnings == []
