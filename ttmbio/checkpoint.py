"""Checkpoints: plain dicts of tensors and primitives, loaded with ``weights_only=True``.

Every checkpoint carries the config it was trained with and its channel list (design
contract 3), so a later stage can refuse one that does not fit its own config.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ttmbio.atomic import remove_stale
from ttmbio.errors import ConfigError, SourceError


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write whole or not at all (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)  # a killed run's half-written temp file
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load safely (no pickle of arbitrary objects); a broken file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: checkpoint not found; run the stage that writes it")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for corrupt or unsafe files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SourceError(f"{path}: not a readable checkpoint ({first[:200]})") from None


def check_compatible(ckpt: dict[str, Any], path: Path, model: dict[str, Any]) -> None:
    """Refuse a checkpoint that is no pretrained encoder, or whose channels or shapes
    disagree with the current ``model`` params (a model pretrained under other params)."""
    if "encoder" not in ckpt or "model" not in ckpt.get("config", {}):
        raise SourceError(
            f"{path}: not a pretrained encoder checkpoint; pass the folder written by "
            "`ttmbio pretrain` (models/pretrain)"
        )
    saved = {"scale_embedding": False, **ckpt["config"]["model"]}  # older checkpoints: off
    for key in (
        "channels",  # what the encoder was pretrained on (fine-tuning inflates from these)
        "context_length",
        "patch_length",
        "d_model",
        "num_layers",
        "expansion_factor",
        "adaptive_patching_levels",
        "mode",
        "scale_embedding",
    ):
        if saved[key] != model[key]:
            raise ConfigError(
                f"{path}: trained with model.{key}={saved[key]!r} but params say "
                f"model.{key}={model[key]!r}; re-run pretraining or restore the param"
            )
