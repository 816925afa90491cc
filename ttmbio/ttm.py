"""The one mapping from ttmbio's params to granite-tsfm's ``TinyTimeMixerConfig``.

Both TTMs of the project, the biosignal encoder (:mod:`ttmbio.model.encoder`) and the glucose
forecaster (:mod:`ttmbio.forecast.model`), are built here, so the fields they share mean the
same thing in both: patches never overlap (stride = length), and ``dropout`` is TTM's.
"""

from __future__ import annotations

from typing import Any

from tsfm_public.models.tinytimemixer import TinyTimeMixerConfig


def tiny_time_mixer_config(
    *,
    context_length: int,
    patch_length: int,
    num_input_channels: int,
    d_model: int,
    num_layers: int,
    dropout: float,
    **fields: Any,
) -> TinyTimeMixerConfig:
    """A TTM config with non-overlapping patches; ``fields`` are passed through (forecast
    length, scaling, decoder and mixing modes: what the two models differ in)."""
    return TinyTimeMixerConfig(
        context_length=context_length,
        patch_length=patch_length,
        patch_stride=patch_length,
        num_input_channels=num_input_channels,
        d_model=d_model,
        num_layers=num_layers,
        dropout=dropout,
        **fields,
    )
