"""Checkpoint metadata: typed records of what a checkpoint holds, refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttmbio.errors import SourceError
from ttmbio.params import FinetuneParams, ModelParams
from ttmbio.params.finetune import TASKS
from ttmbio.training.meta import ClassifierMeta, EncoderMeta, classifier_meta, encoder_meta

PATH = Path("models/finetune/run/best.pt")


def _classifier() -> dict:
    return {
        "model": {},  # the weights: not metadata
        "channels": ["ACC_X", "ACC_Y", "ACC_Z", "PPG", "ECG"],
        "task": TASKS["butppg_quality"].model_dump(mode="json"),
        "target_scale": [0.0, 1.0],
        "config": {
            "model": ModelParams().model_dump(mode="json"),
            "finetune": FinetuneParams().model_dump(mode="json"),
            "windows": {"fs": 125.0, "length": 1024},
        },
        "history": [{"epoch": 0}],  # a training loop's own key: ignored
    }


def test_a_fine_tuned_checkpoint_reads_as_typed_metadata() -> None:
    meta = classifier_meta(_classifier(), PATH)
    assert isinstance(meta, ClassifierMeta)
    assert meta.task == TASKS["butppg_quality"] and meta.target_scale == (0.0, 1.0)
    assert meta.config.model == ModelParams() and meta.config.windows.length == 1024
    assert meta.preprocessing is None  # written before recipes were saved: still readable
    old = _classifier()
    del old["config"]["windows"]
    assert classifier_meta(old, PATH).config.windows is None


def test_an_encoder_checkpoint_is_not_a_fine_tuned_model_and_back() -> None:
    encoder = {"encoder": {}, "channels": ["PPG", "ECG"], "config": {"model": {}}}
    assert isinstance(encoder_meta(encoder, PATH), EncoderMeta)
    with pytest.raises(SourceError, match=r"not a fine-tuned model \(no task or head"):
        classifier_meta(encoder, PATH)
    with pytest.raises(SourceError, match="not a pretrained encoder checkpoint"):
        encoder_meta(_classifier(), PATH)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"task": {**TASKS["butppg_quality"].model_dump(), "kind": "ordinal"}}, "task.kind"),
        ({"target_scale": [0.0]}, "target_scale.1"),
        ({"channels": "PPG"}, "channels"),
    ],
)
def test_metadata_this_version_cannot_read_is_one_line(change: dict, where: str) -> None:
    with pytest.raises(SourceError) as err:
        classifier_meta({**_classifier(), **change}, PATH)
    text = str(err.value)
    assert text.startswith(f"{PATH}: checkpoint metadata this ttmbio cannot read ({where}: ")
    assert text.endswith("re-run `ttmbio finetune`") and "\n" not in text
