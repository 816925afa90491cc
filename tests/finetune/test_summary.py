"""summary.json: a typed, versioned record that calibrate and evaluate read without torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ttmbio.errors import SourceError
from ttmbio.finetune.summary import (
    FORMAT,
    SUMMARY_FILE,
    RunSummary,
    read_run_summary,
    write_run_summary,
)

BINARY = {
    "task": "butppg_quality",
    "dataset": "butppg",
    "kind": "binary",
    "init": "pretrained",
    "mode": "ft",
    "lora": False,
    "label_fraction": 0.1,
    "seed": 42,
    "train_windows": 84,
    "val_windows": 192,
    "best_epoch": 12,
    "epochs_run": 12,
    "trainable_parameters": {"head": 20609, "last_n": 65281},
    "val_auroc": 0.79,
    "val_auprc": 0.66,
    "val_accuracy": 0.75,
}


def test_round_trip_and_the_file_layout(tmp_path: Path) -> None:
    summary = RunSummary(**BINARY)
    write_run_summary(tmp_path, summary)
    assert read_run_summary(tmp_path) == summary
    on_disk = json.loads((tmp_path / SUMMARY_FILE).read_text())
    # the metrics of the other kind and an unused lora_fraction are left out, not null
    assert on_disk == {**BINARY, "format": FORMAT}
    assert summary.val_score == ("AUROC", 0.79)
    regression = RunSummary(
        **{k: v for k, v in BINARY.items() if not k.startswith("val_") or k == "val_windows"},
        val_mae=4.2,
        val_rmse=5.0,
    ).model_copy(update={"kind": "regression"})
    assert regression.val_score == ("MAE", 4.2)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            BINARY,
            r"summary format None \(written by another version of ttmbio\); this ttmbio "
            r"reads 'ttmbio.finetune-summary/1'",
        ),
        ({**BINARY, "format": "ttmbio.finetune-summary/2"}, r"summary format 'ttmbio.fine"),
        ({**BINARY, "format": FORMAT, "kind": "ordinal"}, r"\(kind: Input should be 'binary'"),
        ({**BINARY, "format": FORMAT, "val_loss": 1.0}, r"\(val_loss: Extra inputs"),
        ("[", r"not JSON"),
    ],
)
def test_older_other_or_broken_files_are_one_line(
    tmp_path: Path, doc: object, message: str
) -> None:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    (tmp_path / SUMMARY_FILE).write_text(text)
    with pytest.raises(SourceError, match=message) as err:
        read_run_summary(tmp_path)
    assert str(err.value).startswith(str(tmp_path / SUMMARY_FILE)) and "\n" not in str(err.value)
    assert "re-run `ttmbio finetune`" in str(err.value)


def test_a_folder_without_a_summary_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a fine-tuning run folder"):
        read_run_summary(tmp_path)
