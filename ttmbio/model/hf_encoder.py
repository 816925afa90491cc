"""An encoder saved as a Hugging Face folder (``ttmbio export encoder``), read back.

The folder is ``TinyTimeMixerModel.save_pretrained``'s: ``config.json`` and
``model.safetensors``. ttmbio's settings (channels, model params) ride in ``config.json``
under the key ``ttmbio``; the optional scale embedding, not part of TTM, has its own
safetensors file. Fine-tuning accepts such a folder wherever it accepts a pretraining folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from safetensors.torch import load_file

from ttmbio.digest import file_sha256
from ttmbio.errors import SourceError, first_line
from ttmbio.model.encoder import TTMEncoder
from ttmbio.params import ModelParams
from ttmbio.training.checkpoint import load_checkpoint
from ttmbio.training.meta import EncoderConfig, EncoderMeta, encoder_meta
from ttmbio.versioned import first_error

ENCODER_FORMAT = "ttmbio.encoder-export/1"
MODEL_EXPORT_PREFIX = "ttmbio.model-export/"  # a fine-tuned model's folder (any version)
SCALE_FILE = "ttmbio_scale_embedding.safetensors"


class EncoderInfo(BaseModel):
    """``config.json["ttmbio"]`` of an exported encoder: how ttmbio rebuilds it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["ttmbio.encoder-export/1"] = ENCODER_FORMAT
    channels: list[str]
    model: ModelParams


def is_encoder_folder(path: Path) -> bool:
    """Whether ``path`` looks like an exported (Hugging Face) encoder folder."""
    return (Path(path) / "config.json").is_file() and not (Path(path) / "best.pt").is_file()


def read_encoder_info(folder: Path) -> EncoderInfo:
    """The ``ttmbio`` entry of an exported encoder's ``config.json``; one line otherwise."""
    config = Path(folder) / "config.json"
    try:
        doc = json.loads(config.read_text())
    except (OSError, ValueError) as err:
        raise SourceError(
            f"{config}: not readable ({err}); pass a folder written by `ttmbio export encoder`"
        ) from None
    if isinstance(doc, dict) and str(doc.get("format", "")).startswith(MODEL_EXPORT_PREFIX):
        raise SourceError(
            f"{config}: an exported fine-tuned model, not an encoder; pass the encoder folder "
            "(`ttmbio export encoder`) or models/pretrain"
        )
    if not isinstance(doc, dict) or "ttmbio" not in doc:
        raise SourceError(
            f"{config}: no ttmbio entry (a TTM folder not exported by ttmbio?); use it as "
            "model.pretrained, or export an encoder with `ttmbio export encoder`"
        )
    try:
        return EncoderInfo.model_validate(doc["ttmbio"])
    except ValidationError as err:
        raise SourceError(
            f"{config}: ttmbio entry this ttmbio cannot read ({first_error(err)}); "
            "re-export with `ttmbio export encoder`"
        ) from None


def load_encoder_folder(folder: Path) -> tuple[TTMEncoder, EncoderInfo]:
    """An exported encoder rebuilt as a :class:`TTMEncoder` (backbone from the HF folder),
    in train mode like a freshly built one."""
    from ttmbio.ttm import TinyTimeMixerModel

    folder = Path(folder)
    info = read_encoder_info(folder)
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise SourceError(f"{weights}: missing; re-export with `ttmbio export encoder`")
    try:
        backbone = TinyTimeMixerModel.from_pretrained(folder)
        encoder = TTMEncoder(info.model, info.channels)
        encoder.backbone.load_state_dict(backbone.state_dict())
    except (OSError, ValueError, RuntimeError) as err:  # unreadable or mismatched weights
        raise SourceError(
            f"{weights}: cannot load ({first_line(err)}); re-export the encoder"
        ) from None
    if encoder.scale_embedding is not None:
        scale = folder / SCALE_FILE
        if not scale.is_file():
            raise SourceError(f"{scale}: missing (model.scale_embedding is on); re-export")
        encoder.scale_embedding.load_state_dict(load_file(str(scale)))
    return encoder, info


def encoder_fingerprint(folder: Path) -> str:
    """What identifies an exported encoder for resumable fine-tuning: its config and the
    SHA-256 of its weights."""
    folder = Path(folder)
    digest = file_sha256(folder / "model.safetensors")
    return (folder / "config.json").read_text() + digest


def load_pretrained_folder(folder: Path) -> tuple[TTMEncoder, EncoderMeta]:
    """The pretrained encoder of a ``ttmbio pretrain`` folder (its ``best.pt``) or of an
    exported Hugging Face folder, and what it was trained with."""
    folder = Path(folder)
    if is_encoder_folder(folder):
        encoder, info = load_encoder_folder(folder)
        return encoder, EncoderMeta(channels=info.channels, config=EncoderConfig(model=info.model))
    path = folder / "best.pt"
    ckpt = load_checkpoint(path)
    meta = encoder_meta(ckpt, path)
    encoder = TTMEncoder(meta.config.model, meta.channels)
    encoder.load_state_dict(ckpt["encoder"])
    return encoder, meta
