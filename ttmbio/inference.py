"""Load a fine-tuned model and score window stores with it (calibrate, evaluate, predict).

The model is rebuilt from its checkpoint's own config and channel list, never from the
current params, so a model always sees its windows the way it was trained to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ttmbio.checkpoint import load_checkpoint
from ttmbio.model.encoder import TTMEncoder
from ttmbio.model.heads import ClassifierHead, EncoderClassifier
from ttmbio.params import FinetuneParams, ModelParams
from ttmbio.windows.dataset import WindowDataset, make_loader


@dataclass
class LoadedModel:
    model: EncoderClassifier
    channels: list[str]
    dataset: str
    target: str
    kind: str
    target_scale: tuple[float, float]
    config: dict[str, Any]


def load_finetuned(model_dir: Path) -> LoadedModel:
    """The best weights of a ``ttmbio finetune`` run, in eval mode."""
    ckpt = load_checkpoint(Path(model_dir) / "best.pt")
    cfg = ModelParams.model_validate(ckpt["config"]["model"])
    ft = FinetuneParams.model_validate(ckpt["config"]["finetune"])
    channels = list(ckpt["channels"])
    head = ClassifierHead(
        len(channels),
        cfg.d_model,
        1,
        ft.head.pooling,
        ft.head.hidden_dims,
        ft.head.dropout,
        ft.head.activation,
    )
    model = EncoderClassifier(TTMEncoder(cfg, channels), head)
    model.load_state_dict(ckpt["model"])
    model.eval()
    mean, std = ckpt["target_scale"]
    task = ckpt["task"]
    return LoadedModel(
        model,
        channels,
        task["dataset"],
        task["target"],
        task["kind"],
        (float(mean), float(std)),
        ckpt["config"],
    )


@torch.no_grad()
def score_store(loaded: LoadedModel, store: Path, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Per-window scores (probability of class 1, or the target in its units), labels, ids."""
    ds = WindowDataset(store, loaded.channels, targets=[loaded.target])
    scores, labels = [], []
    for batch in make_loader(ds, batch_size, shuffle=False):
        out = loaded.model(batch["x"])[:, 0]
        if loaded.kind == "binary":
            out = torch.sigmoid(out)
        else:
            out = out * loaded.target_scale[1] + loaded.target_scale[0]
        scores.append(out.numpy())
        labels.append(batch[loaded.target].numpy())
    return {
        "score": np.concatenate(scores) if scores else np.zeros(0),
        "label": np.concatenate(labels) if labels else np.zeros(0),
        "case_id": ds.store.meta("case_id"),
        "start_s": ds.store.meta("start_s"),
    }
