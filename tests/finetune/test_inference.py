"""A fine-tuned model reloaded from its checkpoint scores windows as it did in training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import binary_auroc

from tests.finetune.test_finetune import run, tiny  # noqa: F401 - module fixture
from ttmbio.errors import ConfigError, SourceError
from ttmbio.finetune.inference import load_finetuned, score_store
from ttmbio.finetune.scores import read_run_scores
from ttmbio.finetune.summary import read_run_summary
from ttmbio.params import Params


def test_reloaded_model_reproduces_the_validation_auroc(
    tiny: tuple[Path, Params],  # noqa: F811
) -> None:
    out, summary = run(tiny, "reload")
    loaded = load_finetuned(out)
    assert loaded.channels == ["ACC_X", "ACC_Y", "ACC_Z", "PPG", "ECG"]
    scored = score_store(loaded, tiny[0] / "windows/butppg/val.zarr")
    assert np.all((scored["score"] >= 0) & (scored["score"] <= 1))
    auroc = binary_auroc(torch.tensor(scored["score"]), torch.tensor(scored["label"]).long())
    assert float(auroc) == pytest.approx(summary.val_auroc, abs=1e-6)
    assert len(scored["case_id"]) == len(scored["score"])


def test_the_run_folder_holds_the_reloaded_models_val_and_test_scores(
    tiny: tuple[Path, Params],  # noqa: F811
) -> None:
    """What calibrate, evaluate and label-efficiency read instead of loading the model."""
    out, _ = run(tiny, "scores")
    loaded = load_finetuned(out)
    assert read_run_summary(out).dataset == "butppg" and read_run_summary(out).kind == "binary"
    for split in ("val", "test"):
        written = read_run_scores(out, split)
        again = score_store(loaded, tiny[0] / f"windows/butppg/{split}.zarr")
        # val: the labelled windows early stopping watched; test: every window of the store
        known = again["label"] >= 0 if split == "val" else slice(None)
        for key in ("case_id", "subject_id", "start_s", "label"):
            assert np.array_equal(written[key], again[key][known]), (split, key)
        np.testing.assert_allclose(written["score"], again["score"][known], rtol=0, atol=1e-6)


def test_a_pretrained_checkpoint_or_windows_of_another_dataset_are_refused(
    tiny: tuple[Path, Params],  # noqa: F811
) -> None:
    with pytest.raises(SourceError, match=r"pretrain/best\.pt: not a fine-tuned model"):
        load_finetuned(tiny[0] / "pretrain")
    loaded = load_finetuned(run(tiny, "fits")[0])
    with pytest.raises(ConfigError, match=r"vitaldb/val\.zarr: windows of 1024 samples at 125 Hz"):
        score_store(loaded, tiny[0] / "windows/vitaldb/val.zarr")
