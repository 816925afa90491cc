"""The model and pretrain sections: the TTM encoder's shape and the self-supervised recipe."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    model_validator,
)

from ttmbio.params.common import Section

# --------------------------------------------------------------------------- model


class ModelParams(Section):
    """The TTM encoder, the one source of truth for shapes (design contract 1).

    ``context_length`` must equal ``windows.length``; the encoder, decoder, masking and STFT
    losses are all built from this object, and a pretrained checkpoint must agree with it.
    """

    channels: list[str] = Field(default_factory=lambda: ["PPG", "ECG"])
    context_length: Annotated[int, Field(ge=16)] = 1024
    patch_length: Annotated[int, Field(ge=2)] = 64
    d_model: Annotated[int, Field(ge=4)] = 64
    num_layers: Annotated[int, Field(ge=1, le=16)] = 4
    expansion_factor: Annotated[int, Field(ge=1, le=8)] = 2
    adaptive_patching_levels: Annotated[int, Field(ge=0, le=4)] = 0
    mode: Literal["common_channel", "mix_channel"] = "common_channel"
    dropout: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.1
    scale_embedding: bool = False
    pretrained: str | None = None
    revision: str | None = None

    @property
    def n_patches(self) -> int:
        return self.context_length // self.patch_length

    @model_validator(mode="after")
    def _shapes(self) -> ModelParams:
        if len(set(self.channels)) != len(self.channels) or not self.channels:
            raise ValueError(f"channels must be distinct and non-empty, got {self.channels}")
        if self.context_length % self.patch_length:
            raise ValueError(
                f"patch_length ({self.patch_length}) must divide context_length "
                f"({self.context_length})"
            )
        levels = 2**self.adaptive_patching_levels
        if self.n_patches % levels or self.patch_length % levels:
            raise ValueError(
                f"adaptive_patching_levels={self.adaptive_patching_levels} needs the patch "
                f"count ({self.n_patches}) and patch_length to be divisible by {levels}"
            )
        return self


class STFTResolutionParams(Section):
    n_fft: Annotated[int, Field(ge=4)]
    hop_length: Annotated[int, Field(ge=1)]


class PretrainParams(Section):
    """Masked signal modeling on TTM (spec 001)."""

    seed: int = 42
    epochs: Annotated[int, Field(ge=1)] = 12
    batch_size: Annotated[int, Field(ge=1)] = 64
    lr: Annotated[float, Field(gt=0)] = 3e-3
    weight_decay: Annotated[float, Field(ge=0)] = 0.01
    warmup_epochs: Annotated[float, Field(ge=0)] = 1.0
    grad_clip: Annotated[float, Field(gt=0)] = 1.0
    mask_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.4
    mask_kind: Literal["random", "block"] = "random"
    block_patches: Annotated[int, Field(ge=1)] = 3
    mask_shared_channels: bool = True
    stft_weight: Annotated[float, Field(ge=0)] = 0.3
    stft_resolutions: list[STFTResolutionParams] = Field(
        default_factory=lambda: [
            STFTResolutionParams(n_fft=256, hop_length=64),
            STFTResolutionParams(n_fft=512, hop_length=128),
        ]
    )
    stft_eps: Annotated[float, Field(gt=0)] = 1.0
    spectrum_weight: Annotated[float, Field(ge=0)] = 0.3
    spectrum_bands: Annotated[int, Field(ge=2)] = 24
    spectrum_low_hz: Annotated[float, Field(gt=0)] = 0.5
    spectrum_eps: Annotated[float, Field(gt=0)] = 0.1
    decoder_hidden: Annotated[int, Field(ge=1)] = 128
    checkpoint_every: Annotated[int, Field(ge=1)] = 4
    probe_tasks: list[str] = Field(
        default_factory=lambda: ["vitaldb_hypotension", "vitaldb_map", "vitaldb_hr"]
    )
    amp: Literal["auto", "off"] = "auto"
    resume: bool = True

    @model_validator(mode="after")
    def _resolutions(self) -> PretrainParams:
        if self.warmup_epochs >= self.epochs:
            raise ValueError(
                f"warmup_epochs ({self.warmup_epochs}) must be below epochs ({self.epochs})"
            )
        for r in self.stft_resolutions:
            if r.hop_length > r.n_fft:
                raise ValueError(
                    f"stft_resolutions hop_length {r.hop_length} must be <= n_fft {r.n_fft}"
                )
        return self
