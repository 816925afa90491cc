"""Both TTMs come from one params -> TinyTimeMixerConfig mapping."""

from __future__ import annotations

from ttmbio.forecast.model import Forecaster
from ttmbio.model.encoder import ttm_config
from ttmbio.params import ForecastModelConfig, ModelParams
from ttmbio.ttm import tiny_time_mixer_config


def test_patches_never_overlap_and_extra_fields_pass_through() -> None:
    config = tiny_time_mixer_config(
        context_length=512,
        patch_length=16,
        num_input_channels=3,
        d_model=32,
        num_layers=2,
        dropout=0.2,
        scaling="std",
        prediction_length=24,
    )
    assert (config.patch_length, config.patch_stride) == (16, 16)
    assert (config.scaling, config.prediction_length, config.dropout) == ("std", 24, 0.2)


def test_encoder_and_forecaster_share_the_mapping() -> None:
    encoder = ttm_config(ModelParams(patch_length=32, dropout=0.3))
    assert (encoder.patch_stride, encoder.dropout, encoder.scaling) == (32, 0.3, None)
    forecaster = Forecaster(
        ForecastModelConfig(context_length=64, forecast_length=8, patch_length=8, dropout=0.3)
    )
    forecaster.inputs = []
    model = forecaster._new_model()
    assert (model.config.patch_stride, model.config.dropout) == (8, 0.3)
    assert model.config.prediction_length == 8 and model.config.scaling == "std"
