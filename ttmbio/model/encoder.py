"""The TTM encoder: granite-tsfm's TinyTimeMixer backbone over named channels.

Shapes come from :class:`ttmbio.params.ModelParams` and nowhere else (design contract 1):
the input must be ``[B, C, context_length]`` with ``C = len(channels)``, the output is
``[B, C, n_patches, d_model]`` -- one latent per channel and patch, never pooled here. The
backbone is built with ``scaling=None`` (TTM's no-op scaler): windows arrive z-scored with
train statistics and masked samples set to 0, so no statistic can see masked content.

Pretrained TTM weights load from a local folder (or a hub id when online) and must match the
config's context and patch length, else :class:`ConfigError`; there is no fallback model.
"""

from __future__ import annotations

import torch
from torch import nn
from tsfm_public.models.tinytimemixer import TinyTimeMixerConfig, TinyTimeMixerForPrediction
from tsfm_public.models.tinytimemixer.modeling_tinytimemixer import TinyTimeMixerModel

from ttmbio.errors import ConfigError
from ttmbio.params import ModelParams

# the fields of a pretrained checkpoint that must agree with params (name in TTM's config)
_MUST_MATCH = (
    "context_length",
    "patch_length",
    "d_model",
    "num_layers",
    "adaptive_patching_levels",
)


def ttm_config(cfg: ModelParams, n_channels: int | None = None) -> TinyTimeMixerConfig:
    """TinyTimeMixerConfig for ``cfg`` (``n_channels`` overrides ``len(cfg.channels)``)."""
    return TinyTimeMixerConfig(
        context_length=cfg.context_length,
        patch_length=cfg.patch_length,
        patch_stride=cfg.patch_length,
        num_input_channels=n_channels or len(cfg.channels),
        d_model=cfg.d_model,
        num_layers=cfg.num_layers,
        expansion_factor=cfg.expansion_factor,
        adaptive_patching_levels=cfg.adaptive_patching_levels,
        mode=cfg.mode,
        dropout=cfg.dropout,
        scaling=None,
        prediction_length=cfg.patch_length,  # unused by the backbone; any valid value
    )


class TTMEncoder(nn.Module):
    """``[B, C, T]`` normalised windows -> ``[B, C, P, D]`` latents, channels by name."""

    def __init__(self, cfg: ModelParams, channels: list[str] | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.channels = list(channels or cfg.channels)
        self.config = ttm_config(cfg, len(self.channels))
        self.backbone = TinyTimeMixerModel(self.config)

    @property
    def blocks(self) -> nn.ModuleList:
        """The mixer blocks, first to last (what staged unfreezing counts)."""
        return self.backbone.encoder.mlp_mixer_encoder.mixers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (len(self.channels), self.cfg.context_length)
        if x.dim() != 3 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"encoder expects [B, {expected[0]}, {expected[1]}] windows "
                f"(channels {self.channels}), got {list(x.shape)}"
            )
        return self.backbone(past_values=x.transpose(1, 2)).last_hidden_state


def load_pretrained(encoder: TTMEncoder, source: str, revision: str | None = None) -> None:
    """Copy a saved TTM's backbone weights into ``encoder``; refuse any shape disagreement."""
    try:
        loaded = TinyTimeMixerForPrediction.from_pretrained(source, revision=revision)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(
            f"model.pretrained={source!r}: cannot load TTM weights ({first}); give a local "
            "folder written by save_pretrained, or a hub id with network access"
        ) from None
    for name in _MUST_MATCH:
        ours, theirs = getattr(encoder.config, name), getattr(loaded.config, name)
        if ours != theirs:
            raise ConfigError(
                f"model.pretrained={source!r} was trained with {name}={theirs} but "
                f"model.{name}={ours}; pick the checkpoint (revision) made for {name}={ours} "
                f"or set model.{name}={theirs}"
            )
    missing, unexpected = encoder.backbone.load_state_dict(
        loaded.backbone.state_dict(), strict=False
    )
    if missing or unexpected:
        raise ConfigError(
            f"model.pretrained={source!r}: backbone weights do not fit this encoder "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}); check model.mode"
        )
