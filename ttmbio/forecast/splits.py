"""Patient-level splits for forecasting, and the in-time split of held-out patients.

No patient's data is in two splits. simglucose's cohorts (adolescent, adult, child) differ in
insulin sensitivity and meal sizes, so patients are shuffled within their cohort and dealt out
so that every split mixes cohorts in the ratios' proportions.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import zip_longest

import numpy as np
import pandas as pd

from ttmbio.errors import ConfigError
from ttmbio.params import SPLIT_NAMES


def cohort_of(patient: str) -> str:
    """``adolescent_001`` -> ``adolescent``; ids without a cohort prefix form one cohort."""
    return patient.rsplit("_", 1)[0] if "_" in patient else ""


def split_patients(
    patients: list[str], ratios: dict[str, float], seed: int
) -> dict[str, list[str]]:
    """Each split's patients: cohorts shuffled (seeded) and interleaved round-robin into one
    order, which is cut at the cumulative ratios, so each split mixes the cohorts."""
    by_cohort: dict[str, list[str]] = defaultdict(list)
    for p in sorted(set(patients)):
        by_cohort[cohort_of(p)].append(p)
    rng = np.random.default_rng(seed)
    shuffled = [
        [members[i] for i in rng.permutation(len(members))]
        for _, members in sorted(by_cohort.items())
    ]
    order = [m for rank in zip_longest(*shuffled) for m in rank if m is not None]
    cuts = np.round(np.cumsum([ratios[name] for name in SPLIT_NAMES]) * len(order)).astype(int)
    bounds = [0, *cuts[:-1].tolist(), len(order)]
    out = {
        name: sorted(order[a:b])
        for name, a, b in zip(SPLIT_NAMES, bounds, bounds[1:], strict=False)
    }
    empty = [name for name, members in out.items() if not members]
    if empty:
        raise ConfigError(
            f"forecast.splits.ratios leave {empty} without patients ({len(order)} patients); "
            "raise forecast.data.n_patients or change the ratios"
        )
    return out


def adaptation_cutoff(
    frame: pd.DataFrame, id_column: str, timestamp_column: str, fraction: float
) -> dict[str, pd.Timestamp]:
    """Per patient, the time up to which data may be used for adaptation (fine-tuning);
    forecasts are evaluated only from origins at or after it."""
    cutoff = {}
    for patient, group in frame.groupby(id_column):
        times = pd.to_datetime(group[timestamp_column]).sort_values().to_numpy()
        cutoff[str(patient)] = pd.Timestamp(times[int(len(times) * fraction) - 1])
    return cutoff


def before(
    frame: pd.DataFrame, id_column: str, timestamp_column: str, cutoff: dict[str, pd.Timestamp]
) -> pd.DataFrame:
    """Rows at or before each patient's cutoff."""
    limit = frame[id_column].astype(str).map(cutoff)
    return frame[pd.to_datetime(frame[timestamp_column]) <= limit].reset_index(drop=True)
