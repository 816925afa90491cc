"""Model cards: ``README.md`` in the Hugging Face format (YAML metadata, then markdown), built
with ``huggingface_hub``'s :class:`ModelCardData` so the Hub (and ``ModelCard.load``) read
them. Every number in a card is read from the files the pipeline wrote; nothing is typed in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCardData
from pydantic import BaseModel, ConfigDict

from ttmbio.errors import SourceError
from ttmbio.splits.schema import read_split_file
from ttmbio.synth.marker import is_synthetic

TAGS = ["time-series", "biosignals", "tiny-time-mixers", "granite-tsfm", "ttmbio"]


class TrainingData(BaseModel):
    """Which datasets a model learnt from, where they were read, and whether synthetic."""

    model_config = ConfigDict(frozen=True)

    datasets: dict[str, str]  # dataset -> folder it was read from
    synthetic: list[str]  # the datasets made by `ttmbio synth`

    def lines(self) -> list[str]:
        out = []
        for name, path in self.datasets.items():
            kind = "**synthetic** (made by `ttmbio synth`)" if name in self.synthetic else "real"
            out.append(f"- `{name}`: {kind}, read from `{path}`")
        return out


def training_data(split_file: Path, datasets: list[str]) -> TrainingData:
    """The folders of ``datasets`` in the split file, and which of them ``synth`` made."""
    doc = read_split_file(split_file)
    found: dict[str, str] = {}
    for name in datasets:
        if name in doc.datasets:
            found[name] = str(doc.datasets[name].source.get("path", "?"))
    synthetic = [n for n, p in found.items() if is_synthetic(Path(p))]
    return TrainingData(datasets=found, synthetic=synthetic)


def render_card(data: ModelCardData, title: str, sections: dict[str, list[str]]) -> str:
    """``---`` YAML ``---`` then a title and one ``##`` section per entry."""
    body = [f"# {title}", ""]
    for heading, lines in sections.items():
        body += [f"## {heading}", "", *lines, ""]
    return f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body).rstrip("\n") + "\n"


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def metrics_table(metrics: dict[str, Any]) -> list[str]:
    """The test metrics of ``ttmbio evaluate`` (per window, with bootstrap intervals, and per
    recording) as a markdown table."""
    rows = ["| metric | value | 95 % interval |", "| --- | ---: | --- |"]
    for level in ("windows", "recordings"):
        block = metrics.get(level) or {}
        for key in ("auroc", "auprc", "balanced_accuracy", "f1", "mae", "rmse"):
            if key not in block:
                continue
            low, high = block.get(f"{key}_ci_low"), block.get(f"{key}_ci_high")
            interval = f"[{_fmt(low)}, {_fmt(high)}]" if low is not None else ""
            rows.append(f"| {key} per {level[:-1]} | {_fmt(block[key])} | {interval} |")
    windows = metrics.get("windows") or {}
    for when in ("before", "after"):
        ece = (windows.get(f"calibration_{when}") or {}).get("ece")
        if ece is not None:
            rows.append(f"| ECE {when} calibration | {_fmt(ece)} | |")
    if "n" in windows:
        rows.append(
            f"| test windows (bootstrap units) | {windows['n']} ({windows.get('n_units', '?')} "
            f"{windows.get('bootstrap_unit', '')}s) | |"
        )
    return rows


def eval_results(metrics: dict[str, Any], task: str, dataset: str) -> list[EvalResult]:
    """The headline test numbers as model-index entries (what the Hub shows)."""
    windows = metrics.get("windows") or {}
    names = {"auroc": "roc_auc", "auprc": "average_precision", "mae": "mae", "rmse": "rmse"}
    return [
        EvalResult(
            task_type="time-series-classification"
            if key in ("auroc", "auprc")
            else "time-series-regression",
            dataset_type=dataset,
            dataset_name=f"{dataset} test split",
            metric_type=kind,
            metric_value=float(windows[key]),
            metric_name=f"{key.upper()} per window ({task})",
        )
        for key, kind in names.items()
        if isinstance(windows.get(key), int | float)
    ]


def read_metrics(path: Path | None) -> dict[str, Any]:
    """``ttmbio evaluate``'s metrics file, or nothing when not given; one line naming the
    file when it is missing or not a JSON object."""
    if path is None:
        return {}
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        reason = "not found" if isinstance(err, FileNotFoundError) else f"not readable ({err})"
        raise SourceError(
            f"{path}: {reason}; pass the model's `ttmbio evaluate` metrics, or --metrics none"
        ) from None
    if not isinstance(doc, dict):
        raise SourceError(f"{path}: not a metrics file (a JSON object); pass --metrics none")
    return doc


def limitations(data: TrainingData | None, trained: str, lines: list[str]) -> list[str]:
    """The card's limitations: ``lines``, after a warning when the data was synthetic
    (``trained`` says what was, e.g. "Trained and evaluated")."""
    if data is None or not data.synthetic:
        return lines
    return [
        f"- **{trained} on synthetic data** ({', '.join(data.synthetic)}): it says how the "
        "pipeline works, not how a model does on patients.",
        *lines,
    ]


def readable_by_all(folder: Path) -> None:
    """Files of an exported folder readable by everyone (safetensors and the HF writers
    create some owner-only): the folder is made to be shared."""
    for path in Path(folder).iterdir():
        if path.is_file():
            path.chmod(0o644)
