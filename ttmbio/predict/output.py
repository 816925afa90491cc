"""Predictions as rows: JSON (one object per recording, its windows nested) or CSV.

The CSV holds one row per window and one per recording, told apart by ``level``, so one
file loads into a single table (``df[df.level == "recording"]``). Scores are calibrated
probabilities of class 1 (``probability``, with the model's own ``probability_uncalibrated``)
for a classifier, or the target in its units (``value``) for a regression model. Rejected
windows carry the quality gate that rejected them in ``reason`` and no score.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from ttmbio.atomic import atomic_write_json, atomic_write_text
from ttmbio.errors import ConfigError
from ttmbio.predict.scoring import RecordingResult, recording_score

FORMATS = (".csv", ".json")


def _number(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 6)


def recording_row(r: RecordingResult, kind: str, voting: str, threshold: float) -> dict[str, Any]:
    """The per-recording summary: status, window counts and the voted score."""
    row: dict[str, Any] = {
        "recording": r.item.recording,
        "file": str(r.item.path),
        "source": r.item.source,
    }
    if r.error is not None:
        return {**row, "status": "error", "reason": r.error}
    n_ok = int(r.scored.sum())
    score = recording_score(r, kind, voting, threshold)
    row.update(
        status="ok" if n_ok else "no_windows",
        reason="" if n_ok else "no window passed the quality gates",
        windows_scored=n_ok,
        windows_rejected=len(r.reason) - n_ok,
        gates_not_applied=r.gates_not_applied,
    )
    if kind == "binary":
        row["probability"] = _number(score)
        row["predicted"] = None if math.isnan(score) else int(score >= threshold)
    else:
        row["value"] = _number(score)
    return row


def window_rows(r: RecordingResult, kind: str, threshold: float) -> list[dict[str, Any]]:
    rows = []
    for start, reason, raw, score in zip(r.start_s, r.reason, r.raw, r.score, strict=True):
        row: dict[str, Any] = {
            "start_s": round(float(start), 3),
            "status": "ok" if reason == "" else "rejected",
            "reason": str(reason),
        }
        if kind == "binary":
            row["probability"] = _number(score)
            row["probability_uncalibrated"] = _number(raw)
            row["predicted"] = None if math.isnan(score) else int(score >= threshold)
        else:
            row["value"] = _number(score)
        rows.append(row)
    return rows


def to_document(
    results: list[RecordingResult],
    header: dict[str, Any],
    kind: str,
    voting: str,
    threshold: float,
) -> dict[str, Any]:
    """The JSON document: run header, then each recording with its windows."""
    recordings = [
        {
            **recording_row(r, kind, voting, threshold),
            "windows": window_rows(r, kind, threshold),
        }
        for r in results
    ]
    return {**header, "voting": voting, "threshold": threshold, "recordings": recordings}


def to_csv(doc: dict[str, Any]) -> str:
    """The CSV table of a JSON document: window rows then the recording row, per recording."""
    score_cols = (
        ["probability", "probability_uncalibrated", "predicted"]
        if doc["task"]["kind"] == "binary"
        else ["value"]
    )
    columns = [
        "level",
        "recording",
        "file",
        "start_s",
        "status",
        "reason",
        *score_cols,
        "windows_scored",
        "windows_rejected",
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for rec in doc["recordings"]:
        ids = {"recording": rec["recording"], "file": rec["file"]}
        for w in rec["windows"]:
            writer.writerow({"level": "window", **ids, **w})
        writer.writerow({"level": "recording", **rec})
    return out.getvalue()


def write_predictions(doc: dict[str, Any], path: Path) -> None:
    """Write ``doc`` as JSON or CSV by the file's suffix, atomically."""
    if path.suffix not in FORMATS:
        raise ConfigError(f"--output {path}: unknown format; use a .csv or .json file name")
    if path.suffix == ".json":
        atomic_write_json(path, doc)
    else:
        atomic_write_text(path, to_csv(doc))
