"""The TTM encoder: granite-tsfm's TinyTimeMixer backbone over named channels.

Shapes come from :class:`ttmbio.params.ModelParams` and nowhere else (design contract 1):
the input must be ``[B, C, context_length]`` with ``C = len(channels)``, the output is
``[B, C, n_patches, d_model]`` -- one latent per channel and patch, never pooled here. The
backbone is built with ``scaling=None`` (TTM's no-op scaler): windows arrive z-scored with
train statistics and masked samples set to 0, so no statistic can see masked content.

With ``scale_embedding`` the encoder also adds, to every patch latent of a channel, a learned
embedding of that channel's log standard deviation over the window (over its *observed*
samples: during pretraining the masked ones are left out, so nothing of them leaks). TTM's
blocks normalise each patch (pre-LayerNorm) before every nonlinear branch, so without a
scaler a window's amplitude survives only in the linear residual stream, bound to the
waveform's phase, and cancels when latents are averaged over patches (README, "Does
pretraining pay off?"). TTM itself handles scale with its RevIN-style scaler and hands the
statistics to its forecast head; this is the same idea for an encoder whose output is pooled.

Pretrained TTM weights load from a local folder (or a hub id when online) and must match the
config's context and patch length, else :class:`ConfigError`; there is no fallback model.
The backbone's dropout layers are :class:`~ttmbio.dropout.FastDropout` (same maths,
a CPU mask 5x cheaper).
"""

from __future__ import annotations

import torch
from torch import nn

from ttmbio.dropout import use_fast_dropout
from ttmbio.errors import ConfigError, first_line
from ttmbio.params import ModelParams
from ttmbio.ttm import (
    TinyTimeMixerConfig,
    TinyTimeMixerForPrediction,
    TinyTimeMixerModel,
    tiny_time_mixer_config,
)

# the fields of a pretrained checkpoint that must agree with params (name in TTM's config)
_MUST_MATCH = (
    "context_length",
    "patch_length",
    "d_model",
    "num_layers",
    "adaptive_patching_levels",
)


_STD_EPS = 1e-3  # windows are z-scored: a flat channel's log std floors near log(1e-3)


def ttm_config(cfg: ModelParams, n_channels: int | None = None) -> TinyTimeMixerConfig:
    """TinyTimeMixerConfig for ``cfg`` (``n_channels`` overrides ``len(cfg.channels)``)."""
    return tiny_time_mixer_config(
        context_length=cfg.context_length,
        patch_length=cfg.patch_length,
        num_input_channels=n_channels or len(cfg.channels),
        d_model=cfg.d_model,
        num_layers=cfg.num_layers,
        dropout=cfg.dropout,
        expansion_factor=cfg.expansion_factor,
        adaptive_patching_levels=cfg.adaptive_patching_levels,
        mode=cfg.mode,
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
        self.backbone = use_fast_dropout(TinyTimeMixerModel(self.config))
        self.scale_embedding = nn.Linear(1, cfg.d_model) if cfg.scale_embedding else None

    @property
    def blocks(self) -> nn.ModuleList:
        """The mixer blocks, first to last (what staged unfreezing counts)."""
        return self.backbone.encoder.mlp_mixer_encoder.mixers

    def _check(self, x: torch.Tensor) -> None:
        expected = (len(self.channels), self.cfg.context_length)
        if x.dim() != 3 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"encoder expects [B, {expected[0]}, {expected[1]}] windows "
                f"(channels {self.channels}), got {list(x.shape)}"
            )

    def forward(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> torch.Tensor:
        """Latents of ``x``; ``observed`` (bool, like ``x``) marks the samples the scale
        embedding may read (default: all)."""
        self._check(x)
        return self._with_scale(
            self.backbone(past_values=x.transpose(1, 2)).last_hidden_state, x, observed
        )

    def _with_scale(
        self, latents: torch.Tensor, x: torch.Tensor, observed: torch.Tensor | None
    ) -> torch.Tensor:
        if self.scale_embedding is None:
            return latents
        return latents + self.scale_embedding(log_std(x, observed))[:, :, None, :]

    def hidden_states(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[B, C, P, D]`` latents entering the first mixer block (the embedded patches)
        and leaving each block: ``num_layers + 1`` tensors, the last equal to :meth:`forward`
        (so it alone holds the scale embedding)."""
        self._check(x)
        captured: list[torch.Tensor] = []
        hooks = [
            self.backbone.encoder.mlp_mixer_encoder.register_forward_pre_hook(
                lambda _m, args: captured.append(args[0])
            ),
            *(
                block.register_forward_hook(
                    lambda _m, _a, out: captured.append(out[0] if isinstance(out, tuple) else out)
                )
                for block in self.blocks
            ),
        ]
        try:
            self.backbone(past_values=x.transpose(1, 2))
        finally:
            for hook in hooks:
                hook.remove()
        captured[-1] = self._with_scale(captured[-1], x, None)
        return captured


def log_std(x: torch.Tensor, observed: torch.Tensor | None = None) -> torch.Tensor:
    """``[B, C, T]`` -> ``[B, C, 1]`` log standard deviation over the observed samples."""
    if observed is None:
        return torch.log(x.std(dim=-1, correction=0, keepdim=True) + _STD_EPS)
    w = observed.to(x.dtype)
    n = w.sum(dim=-1, keepdim=True).clamp_min(1.0)
    mean = (x * w).sum(dim=-1, keepdim=True) / n
    var = (((x - mean) * w) ** 2).sum(dim=-1, keepdim=True) / n
    return torch.log(var.sqrt() + _STD_EPS)


def load_pretrained(encoder: TTMEncoder, source: str, revision: str | None = None) -> None:
    """Copy a saved TTM's backbone weights into ``encoder``; refuse any shape disagreement.

    ``source`` is a forecasting TTM (``TinyTimeMixerForPrediction``, as IBM publishes them)
    or a bare backbone (``TinyTimeMixerModel``, as ``ttmbio export encoder`` writes it)."""
    try:
        config = TinyTimeMixerConfig.from_pretrained(source, revision=revision)
        bare = "TinyTimeMixerModel" in (config.architectures or [])
        cls = TinyTimeMixerModel if bare else TinyTimeMixerForPrediction
        loaded = cls.from_pretrained(source, revision=revision)
    except (OSError, ValueError) as err:
        first = first_line(err, limit=10_000)
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
    backbone = loaded if bare else loaded.backbone
    missing, unexpected = encoder.backbone.load_state_dict(backbone.state_dict(), strict=False)
    if missing or unexpected:
        raise ConfigError(
            f"model.pretrained={source!r}: backbone weights do not fit this encoder "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]}); check model.mode"
        )
