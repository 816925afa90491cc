"""The scored test windows as a small CSV, so two revisions can be compared without re-running.

One row per labelled test window: dataset, case (recording) and subject ids, start time, label,
the model's raw score and the calibrated probability. Floats are written with ``repr``, so a
re-run writes the same bytes. :func:`pair` lines two files up window by window.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ttmbio.atomic import atomic_write_text
from ttmbio.errors import ConfigError

COLUMNS = ("dataset", "case_id", "subject_id", "start_s", "label", "score", "probability")


def scores_csv(dataset: str, scored: dict[str, np.ndarray]) -> str:
    """CSV text of ``scored`` (``evaluation.evaluate_scored``'s labelled windows)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for case, subject, start, label, score, prob in zip(
        scored["case_id"],
        scored["subject_id"],
        scored["start_s"],
        scored["label"],
        scored["score"],
        scored["probability"],
        strict=True,
    ):
        writer.writerow(
            [dataset, case, subject, repr(float(start)), int(label), repr(float(score)),
             repr(float(prob))]
        )  # fmt: skip
    return out.getvalue()


def write_scores(path: Path, dataset: str, scored: dict[str, np.ndarray]) -> None:
    atomic_write_text(path, scores_csv(dataset, scored))


@dataclass(frozen=True)
class ScoredWindows:
    """One scores file, as arrays in file order."""

    source: str
    dataset: str
    case_id: np.ndarray
    subject_id: np.ndarray
    start_s: np.ndarray
    label: np.ndarray
    probability: np.ndarray

    @property
    def keys(self) -> list[tuple[str, float]]:
        return list(zip(self.case_id.tolist(), self.start_s.tolist(), strict=True))


def parse_scores(text: str, source: str) -> ScoredWindows:
    """Read a scores file's text; ``source`` names it in errors."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or set(COLUMNS) - set(rows[0]):
        raise ConfigError(
            f"{source}: not a scores file (needs columns {', '.join(COLUMNS)}); it is written "
            "by `ttmbio evaluate` as metrics/evaluate_scores.csv"
        )
    datasets = {r["dataset"] for r in rows}
    if len(datasets) != 1:
        raise ConfigError(f"{source}: windows of several datasets {sorted(datasets)}")
    try:
        return ScoredWindows(
            source,
            datasets.pop(),
            np.array([r["case_id"] for r in rows]),
            np.array([r["subject_id"] for r in rows]),
            np.array([float(r["start_s"]) for r in rows]),
            np.array([int(r["label"]) for r in rows]),
            np.array([float(r["probability"]) for r in rows]),
        )
    except ValueError as err:
        raise ConfigError(f"{source}: unreadable scores file ({err})") from None


def read_scores(path: Path) -> ScoredWindows:
    return parse_scores(path.read_text(), str(path))


def pair(base: ScoredWindows, new: ScoredWindows) -> np.ndarray:
    """The probabilities of ``new`` for ``base``'s windows, in ``base``'s order.

    Refuses two files whose windows differ (another split or windowing): a paired comparison
    needs both models scored on the same windows with the same labels.
    """
    index = {key: i for i, key in enumerate(new.keys)}
    missing = [k for k in base.keys if k not in index]
    if base.dataset != new.dataset or missing or len(index) != len(base.keys):
        raise ConfigError(
            f"{base.source} and {new.source} score different test windows ({base.dataset}: "
            f"{len(base.keys)} windows, {new.dataset}: {len(new.keys)}, {len(missing)} of the "
            "first not in the second); compare runs made on the same splits and windows"
        )
    order = np.array([index[k] for k in base.keys])
    if not np.array_equal(base.label, new.label[order]):
        raise ConfigError(
            f"{base.source} and {new.source} label the same windows differently; compare runs "
            "of the same task"
        )
    return new.probability[order]
