"""Both TTMs come from one params -> TinyTimeMixerConfig mapping, and one import of TTM."""

from __future__ import annotations

import sys

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


def test_deferred_package_init_keeps_one_copy_of_every_class() -> None:
    """After ``ttmbio.ttm`` (no toolkit loaded), granite-tsfm works as if imported first:
    package-level names run its ``__init__`` once, in the same module, and give the classes
    ttmbio built with; TTM's config is registered with transformers then."""
    import subprocess

    code = """
import sys
import ttmbio.ttm as ttm
assert "tsfm_public.toolkit" not in sys.modules
import tsfm_public
early = tsfm_public
from tsfm_public import TimeSeriesPreprocessor, TinyTimeMixerForPrediction
assert "tsfm_public.toolkit" in sys.modules and TimeSeriesPreprocessor.__name__
assert TinyTimeMixerForPrediction is ttm.TinyTimeMixerForPrediction
assert early.TinyTimeMixerModel is ttm.TinyTimeMixerModel
from tsfm_public.models.tinytimemixer.modeling_tinytimemixer import TinyTimeMixerModel
assert TinyTimeMixerModel is ttm.TinyTimeMixerModel
from transformers import AutoConfig
assert type(AutoConfig.for_model("tinytimemixer")) is ttm.TinyTimeMixerConfig
assert sys.modules["tsfm_public"].__version__ == early.__version__
try:
    early.no_such_name
except AttributeError:
    print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stdout.strip() == "ok"


def test_a_package_imported_first_is_kept() -> None:
    import tsfm_public

    from ttmbio.ttm import defer_tsfm_package_init

    defer_tsfm_package_init()
    assert sys.modules["tsfm_public"] is tsfm_public
