"""Load a fine-tuned model and score window stores with it (calibrate, evaluate, predict).

The model is rebuilt from its checkpoint's own config and channel list, never from the
current params, so a model always sees its windows the way it was trained to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ttmbio.errors import ConfigError, SourceError
from ttmbio.finetune.scores import MODEL_FILE, Scored, model_digest
from ttmbio.model.encoder import TTMEncoder
from ttmbio.model.heads import ClassifierHead, EncoderClassifier
from ttmbio.training.checkpoint import load_checkpoint
from ttmbio.training.meta import ClassifierConfig, ClassifierMeta, classifier_meta
from ttmbio.windows.dataset import PooledWindows, WindowDataset, make_loader
from ttmbio.windows.recipe import WindowRecipe
from ttmbio.windows.store import WindowStore


@dataclass
class LoadedModel:
    model: EncoderClassifier
    meta: ClassifierMeta  # what the checkpoint (or exported config) says about the model
    digest: str  # SHA-256 of the run's checkpoint: what its calibrator was fitted on

    @property
    def channels(self) -> list[str]:
        return self.meta.channels

    @property
    def dataset(self) -> str:
        return self.meta.task.dataset

    @property
    def target(self) -> str:
        return self.meta.task.target

    @property
    def kind(self) -> str:
        return self.meta.task.kind

    @property
    def target_scale(self) -> tuple[float, float]:
        return self.meta.target_scale

    @property
    def config(self) -> ClassifierConfig:
        return self.meta.config

    @property
    def recipe(self) -> WindowRecipe | None:
        """None for checkpoints written before recipes were saved."""
        return self.meta.preprocessing

    @torch.no_grad()
    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised windows ``[B, C, T]`` -> one score per window (see :func:`to_scores`)."""
        device = next(self.model.parameters()).device
        return to_scores(self.model(x.to(device))[:, 0], self.kind, self.target_scale).cpu()


def to_scores(out: torch.Tensor, kind: str, target_scale: tuple[float, float]) -> torch.Tensor:
    """Head outputs -> probability of class 1, or the target in its units."""
    if kind == "binary":
        return torch.sigmoid(out)
    mean, std = target_scale
    return out * std + mean


def load_finetuned(model_dir: Path) -> LoadedModel:
    """The best weights of a ``ttmbio finetune`` run, in eval mode."""
    digest = model_digest(model_dir)
    path = Path(model_dir) / MODEL_FILE
    ckpt = load_checkpoint(path)
    return assemble(classifier_meta(ckpt, path), ckpt["model"], digest, path)


def assemble(
    meta: ClassifierMeta,
    state: dict[str, torch.Tensor],
    digest: str,
    path: Path,
    fix: str = "re-run `ttmbio finetune`",
) -> LoadedModel:
    """The model ``meta`` describes with the weights ``state`` (read from ``path``), in eval
    mode: a run's checkpoint and an exported folder are loaded alike (``fix``: what to do
    when the weights do not fit)."""
    cfg, ft, channels = meta.config.model, meta.config.finetune, meta.channels
    head = ClassifierHead(
        len(channels),
        cfg.d_model,
        1,
        ft.head.pooling,
        ft.head.hidden_dims,
        ft.head.dropout,
        ft.head.activation,
        ft.head.norm,
    )
    model = EncoderClassifier(TTMEncoder(cfg, channels), head)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:  # shapes or names that the saved config does not build
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = lines[min(1, len(lines) - 1)][:200] if lines else type(err).__name__
        raise SourceError(
            f"{path}: weights do not fit the config saved with them ({detail}); {fix}"
        ) from None
    model.eval()
    return LoadedModel(model, meta, digest)


@torch.no_grad()
def score_windows(
    model: torch.nn.Module,
    ds: WindowDataset | PooledWindows,
    target: str,
    kind: str,
    target_scale: tuple[float, float],
    subset: np.ndarray | None = None,
    batch_size: int = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores (probability of class 1, or the target in its units) and labels, in store order.

    The one scoring loop, shared by fine-tuning's validation and the later stages.
    """
    model.eval()
    device = next(model.parameters()).device
    scores, labels = [], []
    for batch in make_loader(ds, batch_size, shuffle=False, subset=subset):
        out = model(batch["x"].to(device, non_blocking=True))[:, 0]
        scores.append(to_scores(out, kind, target_scale).cpu())
        labels.append(batch[target].float())
    if not scores:
        return torch.zeros(0), torch.zeros(0)
    return torch.cat(scores), torch.cat(labels)


def check_fits(loaded: LoadedModel, store: WindowStore) -> None:
    """Refuse windows the model was not trained on the like of (channels, length, rate)."""
    context = loaded.config.model.context_length
    fs = loaded.config.windows.fs if loaded.config.windows is not None else store.fs
    missing = [c for c in loaded.channels if c not in store.channels]
    if missing or store.length != context or store.fs != fs:
        raise ConfigError(
            f"{store.path}: windows of {store.length} samples at {store.fs:g} Hz with channels "
            f"{store.channels} do not fit the model ({context} samples at {fs:g} Hz, channels "
            f"{loaded.channels}); fine-tune on these windows (`ttmbio finetune`), or re-make "
            "them with the model's windows params (`dvc repro windows`)"
        )


def with_ids(
    ds: WindowDataset | PooledWindows,
    scores: torch.Tensor,
    labels: torch.Tensor,
    subset: np.ndarray | None = None,
) -> Scored:
    """:func:`score_windows`' output (all windows, or ``subset``) with the windows' ids."""
    picked = slice(None) if subset is None else subset
    return {
        "score": scores.numpy(),
        "label": labels.numpy(),
        **{key: ds.meta(key)[picked] for key in ("case_id", "subject_id", "start_s")},
    }


def score_store(loaded: LoadedModel, store: Path, batch_size: int = 256) -> Scored:
    """Per-window scores and labels of a whole store, with the windows' ids."""
    windows = WindowStore(store)
    check_fits(loaded, windows)
    if len(windows) == 0:
        split = windows.group.attrs.get("split", windows.path.stem)
        raise SourceError(
            f"{windows.path}: the {split} split has no windows to score; give it cases "
            f"(splits.ratios.{split} > 0, or more subjects) or see the rejections in "
            "metrics/windows.json"
        )
    ds = WindowDataset(store, loaded.channels, targets=[loaded.target])
    scores, labels = score_windows(
        loaded.model, ds, loaded.target, loaded.kind, loaded.target_scale, batch_size=batch_size
    )
    return with_ids(ds, scores, labels)
