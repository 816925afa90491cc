"""The schedule, the model and the data of one fine-tuning run (see :mod:`ttmbio.finetune`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ttmbio.errors import SourceError
from ttmbio.model.encoder import TTMEncoder
from ttmbio.model.heads import ClassifierHead, EncoderClassifier
from ttmbio.model.hf_encoder import (
    encoder_fingerprint,
    is_encoder_folder,
    load_pretrained_folder,
)
from ttmbio.model.inflate import inflate_encoder
from ttmbio.model.lora import LoraSettings, apply_lora
from ttmbio.params import ModelParams, Params
from ttmbio.splits.folds import case_folds, window_folds
from ttmbio.splits.schema import SplitFile
from ttmbio.ssl.summary import SUMMARY_FILE as PRETRAIN_SUMMARY
from ttmbio.ssl.summary import read_pretrain_summary
from ttmbio.training.distributed import DistInfo
from ttmbio.training.engine import fingerprint_of
from ttmbio.training.meta import check_compatible
from ttmbio.windows.dataset import PooledWindows, WindowDataset
from ttmbio.windows.labels import label_subset
from ttmbio.windows.stats import STATS_FILE

Stage = tuple[str, int, float]  # (name, epochs, lr)


def stages(params: Params) -> list[Stage]:
    """The stages this run goes through, with their epochs and learning rates."""
    fp = params.finetune
    if fp.mode == "fm":
        return [("head", fp.head_epochs + fp.unfreeze_epochs, fp.lr)]
    middle = "lora" if fp.lora.enabled else "last_n"
    plan = [
        ("head", fp.head_epochs, fp.lr),
        (middle, fp.unfreeze_epochs, fp.lr),
        ("all", fp.full_epochs, fp.lr / 10),
    ]
    return [s for s in plan if s[1] > 0]


def build_model(params: Params, pretrained: Path | None) -> EncoderClassifier:
    """Encoder (pretrained and inflated to the task's channels, or random) plus a head."""
    fp, spec = params.finetune, params.finetune.spec
    torch.manual_seed(fp.seed)
    if fp.init == "pretrained":
        if pretrained is None:
            raise SourceError("finetune.init=pretrained needs a pretrained model folder")
        source = pretrained_encoder(pretrained, params.model)
        generator = torch.Generator().manual_seed(fp.seed)
        encoder = inflate_encoder(source, spec.channels, generator, fp.inflation_noise)
    else:
        encoder = TTMEncoder(params.model, spec.channels)
    head = ClassifierHead(
        len(spec.channels),
        params.model.d_model,
        1,
        fp.head.pooling,
        fp.head.hidden_dims,
        fp.head.dropout,
        fp.head.activation,
        fp.head.norm,
    )
    model = EncoderClassifier(encoder, head)
    if fp.lora.enabled:
        lp = fp.lora
        apply_lora(model, LoraSettings(lp.r, lp.alpha, lp.dropout, tuple(lp.target_modules)))
    return model


@dataclass
class Finetuner:
    """Everything one fine-tuning run holds; built by :func:`build_finetuner`."""

    params: Params
    model: EncoderClassifier
    train: WindowDataset | PooledWindows
    val: WindowDataset | PooledWindows
    test: WindowDataset
    train_idx: np.ndarray
    val_idx: np.ndarray
    fingerprint: str
    target_mean: float = 0.0
    target_std: float = 1.0
    pos_weight: float = 1.0
    history: list[dict[str, float]] = field(default_factory=list)
    dist: DistInfo = field(default_factory=lambda: DistInfo(0, 1, torch.device("cpu")))
    net: nn.Module = field(init=False)  # the model, DDP-wrapped per phase under torchrun

    def __post_init__(self) -> None:
        self.model.to(self.dist.device)
        self.net = self.model

    def wrap(self) -> None:
        """Under torchrun, a DDP wrapper over the parameters that train in this phase (DDP
        buckets the trainable parameters when it is built, so each phase builds its own)."""
        if self.dist.distributed:
            ids = [self.dist.device.index] if self.dist.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

    @property
    def binary(self) -> bool:
        return self.params.finetune.spec.kind == "binary"

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.binary:
            weight = torch.tensor(self.pos_weight, device=logits.device)
            return nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=weight)
        return nn.functional.mse_loss(logits, (y - self.target_mean) / self.target_std)


def _split_datasets(
    params: Params, folder: Path, fold: int | None, split_doc: SplitFile | None
) -> tuple[WindowDataset | PooledWindows, WindowDataset | PooledWindows, np.ndarray, np.ndarray]:
    """(train, val, train targets, val targets); a target is NaN where a window is not used.

    Without a fold: the train and val stores. With one: train+val pooled, the fold's cases
    validating and the other folds training.
    """
    spec = params.finetune.spec
    length = params.model.context_length  # stale windows of another length: refused here
    train = WindowDataset(folder / "train.zarr", spec.channels, [spec.target], length=length)
    val = WindowDataset(folder / "val.zarr", spec.channels, [spec.target], length=length)
    if fold is None:
        y_train = train.targets[spec.target].numpy().astype(np.float64)
        return train, val, y_train, val.targets[spec.target].numpy().astype(np.float64)
    if split_doc is None:
        raise ValueError("a fold needs the split file")
    pool = PooledWindows([train, val])
    in_fold = window_folds(pool.meta("case_id"), case_folds(split_doc, spec.dataset), folder)
    y = pool.targets[spec.target].numpy().astype(np.float64)
    return pool, pool, np.where(in_fold == fold, np.nan, y), np.where(in_fold == fold, y, np.nan)


def pretrained_encoder(pretrained: Path, model: ModelParams) -> TTMEncoder:
    """The encoder of a ``ttmbio pretrain`` folder (its ``best.pt``) or of one exported as a
    Hugging Face folder (``ttmbio export encoder``); refused (one line) when its channels or
    shapes disagree with the ``model`` params."""
    encoder, meta = load_pretrained_folder(pretrained)
    where = pretrained / ("config.json" if is_encoder_folder(pretrained) else "best.pt")
    check_compatible(meta, where, model)
    return encoder


def _pretrained_summary_text(pretrained: Path) -> str:
    """What identifies the pretrained encoder in the resume fingerprint: the pretraining
    summary's bytes, once validated (a missing one, or one of another version, is a one-line
    error), or an exported folder's config and weights digest."""
    if is_encoder_folder(pretrained):
        return encoder_fingerprint(pretrained)
    read_pretrain_summary(pretrained)
    return (pretrained / PRETRAIN_SUMMARY).read_text()


def build_finetuner(
    params: Params,
    windows: Path,
    pretrained: Path | None,
    fold: int | None = None,
    split_doc: SplitFile | None = None,
    dist: DistInfo | None = None,
) -> Finetuner:
    """Model and data of a run; ``fold`` (with the split file) makes it a cross-validation
    fold: trained on the other folds of train+val, validated on this one. ``dist``: the
    process group under torchrun (each rank trains on its share of the batches)."""
    fp, spec = params.finetune, params.finetune.spec
    folder = windows / spec.dataset
    train, val, y_train, y_val = _split_datasets(params, folder, fold, split_doc)
    train_idx = label_subset(y_train, spec.kind, fp.label_fraction, fp.seed)
    val_idx = label_subset(y_val, spec.kind, 1.0, fp.seed)
    for name, idx, y in (("train", train_idx, y_train), ("val", val_idx, y_val)):
        if len(idx) == 0 or (spec.kind == "binary" and len(np.unique(y[idx])) < 2):
            where = folder / f"{name}.zarr" if fold is None else f"{folder} fold {fold}"
            raise SourceError(
                f"{where}: the {name} split has no usable "
                f"{'two-class ' if spec.kind == 'binary' else ''}labels for "
                f"finetune.task={fp.task!r}; check splits and metrics/windows.json"
            )
    model = build_model(params, pretrained)
    test = WindowDataset(
        folder / "test.zarr", spec.channels, [spec.target], length=params.model.context_length
    )
    tuner = Finetuner(
        params,
        model,
        train,
        val,
        test,
        train_idx,
        val_idx,
        fingerprint_of(
            {
                "params": params.model_dump(mode="json", include={"model", "finetune"}),
                "stats": (folder / STATS_FILE).read_text(),
                "fold": fold,
                "pretrained": _pretrained_summary_text(pretrained)
                if fp.init == "pretrained" and pretrained is not None
                else None,
            }
        ),
        dist=dist or DistInfo(0, 1, torch.device("cpu")),
    )
    labels = y_train[train_idx]
    if spec.kind == "binary":
        positives = float(labels.sum())
        if fp.class_balance == "weights":
            tuner.pos_weight = (len(labels) - positives) / max(positives, 1.0)
    else:
        tuner.target_mean, tuner.target_std = float(labels.mean()), float(labels.std() or 1.0)
    return tuner
