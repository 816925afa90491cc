"""What a checkpoint says about the model in it, as typed records.

A pretrained encoder's checkpoint (``models/pretrain/best.pt``) carries :class:`EncoderMeta`
beside its weights, a fine-tuned classifier's (``models/finetune/<run>/best.pt``)
:class:`ClassifierMeta`. The container and its format version are
:mod:`ttmbio.training.checkpoint`'s; these records are validated when a checkpoint is used,
so one of another kind, or whose saved config this version of ttmbio cannot read, is a
one-line error that names the file. Other keys (weights, optimizer state, history) are the
training loops' own and are ignored here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ttmbio.errors import ConfigError, SourceError
from ttmbio.params import FinetuneParams, ModelParams
from ttmbio.params.finetune import TaskSpec
from ttmbio.versioned import first_error
from ttmbio.windows.recipe import WindowRecipe

# the encoder settings that must match between a pretrained checkpoint and the current params
SHAPE_KEYS = (
    "channels",  # what the encoder was pretrained on (fine-tuning inflates from these)
    "context_length",
    "patch_length",
    "d_model",
    "num_layers",
    "expansion_factor",
    "adaptive_patching_levels",
    "mode",
    "scale_embedding",  # absent from older checkpoints: the default, off
)


class _Meta(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class EncoderConfig(_Meta):
    model: ModelParams


class EncoderMeta(_Meta):
    """A pretrained encoder: the channels it read and the model params it was built with."""

    channels: list[str]
    config: EncoderConfig


class WindowShape(_Meta):
    fs: float
    length: int


class ClassifierConfig(_Meta):
    model: ModelParams
    finetune: FinetuneParams
    windows: WindowShape | None = None  # absent from checkpoints of early versions


class ClassifierMeta(_Meta):
    """A fine-tuned classifier or regressor: its channels, task, target scaling, the params
    that build its head, and how raw recordings become its windows."""

    channels: list[str]
    task: TaskSpec
    target_scale: tuple[float, float]  # (mean, std) of a regression target; (0, 1) otherwise
    config: ClassifierConfig
    preprocessing: WindowRecipe | None = None  # absent before recipes were saved


def _validated(cls: type[_Meta], ckpt: dict[str, Any], path: Path, rerun: str) -> Any:
    try:
        return cls.model_validate(ckpt)
    except ValidationError as err:
        raise SourceError(
            f"{path}: checkpoint metadata this ttmbio cannot read ({first_error(err)}); "
            f"re-run `{rerun}`"
        ) from None


def encoder_meta(ckpt: dict[str, Any], path: Path) -> EncoderMeta:
    """The metadata of a pretrained encoder checkpoint; anything else is refused."""
    if "encoder" not in ckpt or "model" not in ckpt.get("config", {}):
        raise SourceError(
            f"{path}: not a pretrained encoder checkpoint; pass the folder written by "
            "`ttmbio pretrain` (models/pretrain)"
        )
    return _validated(EncoderMeta, ckpt, path, "ttmbio pretrain")


def classifier_meta(ckpt: dict[str, Any], path: Path) -> ClassifierMeta:
    """The metadata of a fine-tuned model's checkpoint; a pretrained encoder's (or any other)
    lacks the task and head: say so."""
    keys = ("model", "channels", "task", "target_scale", "config")
    if not all(k in ckpt for k in keys) or "finetune" not in ckpt["config"]:
        raise SourceError(
            f"{path}: not a fine-tuned model (no task or head in it; a pretrained encoder?); "
            "pass a run folder written by `ttmbio finetune`, e.g. "
            "models/finetune/pretrained-1.0-seed42"
        )
    return _validated(ClassifierMeta, ckpt, path, "ttmbio finetune")


def check_compatible(meta: EncoderMeta, path: Path, model: ModelParams) -> None:
    """Refuse an encoder whose channels or shapes disagree with the current ``model`` params
    (a model pretrained under other params)."""
    for key in SHAPE_KEYS:
        saved, wanted = getattr(meta.config.model, key), getattr(model, key)
        if saved != wanted:
            raise ConfigError(
                f"{path}: trained with model.{key}={saved!r} but params say "
                f"model.{key}={wanted!r}; re-run pretraining or restore the param"
            )
