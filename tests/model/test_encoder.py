from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tsfm_public.models.tinytimemixer import TinyTimeMixerForPrediction

from ttmbio.errors import ConfigError
from ttmbio.model.decoder import PatchDecoder
from ttmbio.model.encoder import TTMEncoder, load_pretrained, log_std, ttm_config
from ttmbio.params import ModelParams
from ttmbio.ssl.masking import apply_mask, expand_to_samples, patch_mask

SMALL = ModelParams(d_model=16, num_layers=2)


@pytest.mark.parametrize(
    "channels", [["PPG"], ["PPG", "ECG"], ["ACC_X", "ACC_Y", "ACC_Z", "PPG", "ECG"]]
)
def test_latents_and_reconstruction_per_channel(channels: list[str]) -> None:
    cfg = SMALL.model_copy(update={"channels": channels})
    encoder, decoder = TTMEncoder(cfg).eval(), PatchDecoder(cfg, hidden=8).eval()
    z = encoder(torch.randn(3, len(channels), 1024))
    assert z.shape == (3, len(channels), 16, 16)
    assert decoder(z).shape == (3, len(channels), 1024)


def test_each_channel_is_decoded_from_its_own_latents() -> None:
    decoder = PatchDecoder(SMALL, hidden=8)
    z = torch.randn(2, 2, 16, 16)
    changed = z.clone()
    changed[:, 1] += 5.0
    assert torch.equal(decoder(z)[:, 0], decoder(changed)[:, 0])
    assert not torch.equal(decoder(z)[:, 1], decoder(changed)[:, 1])


def test_wrong_input_shape_is_refused_not_adapted() -> None:
    encoder = TTMEncoder(SMALL)
    with pytest.raises(ValueError, match=r"expects \[B, 2, 1024\]"):
        encoder(torch.randn(2, 2, 512))
    with pytest.raises(ValueError, match="channels"):
        encoder(torch.randn(2, 3, 1024))


@pytest.mark.parametrize("scale_embedding", [False, True])
def test_masked_content_cannot_change_the_latents(scale_embedding: bool) -> None:
    torch.manual_seed(0)
    encoder = TTMEncoder(SMALL.model_copy(update={"scale_embedding": scale_embedding})).eval()
    x = torch.randn(4, 2, 1024)
    mask = expand_to_samples(
        patch_mask(4, 2, 16, 0.4, "random", torch.Generator().manual_seed(1)), 64
    )
    other = torch.where(mask, torch.randn_like(x) * 100 + 50, x)  # wild values, masked only
    assert encoder.backbone.scaler.__class__.__name__ == "TinyTimeMixerNOPScaler"
    torch.testing.assert_close(
        encoder(apply_mask(x, mask), ~mask),
        encoder(apply_mask(other, mask), ~mask),
        rtol=0,
        atol=0,
    )
    assert not torch.equal(encoder(x), encoder(other))  # unmasked, the content would leak
    if scale_embedding:  # the scale reads observed samples only: the masked zeros do not count
        assert not torch.equal(encoder(apply_mask(x, mask), ~mask), encoder(apply_mask(x, mask)))


def save_ttm(folder: Path, context: int, patch: int) -> None:
    cfg = SMALL.model_copy(update={"context_length": context, "patch_length": patch})
    TinyTimeMixerForPrediction(ttm_config(cfg)).save_pretrained(folder)


def test_pretrained_weights_load_from_a_local_folder(tmp_path: Path) -> None:
    save_ttm(tmp_path / "ttm", 1024, 64)
    saved = TinyTimeMixerForPrediction.from_pretrained(tmp_path / "ttm").backbone.state_dict()
    encoder = TTMEncoder(SMALL)
    load_pretrained(encoder, str(tmp_path / "ttm"))
    for name, tensor in encoder.backbone.state_dict().items():
        torch.testing.assert_close(tensor, saved[name])


def test_pretrained_with_another_context_length_is_refused(tmp_path: Path) -> None:
    save_ttm(tmp_path / "ttm512", 512, 64)
    with pytest.raises(ConfigError, match=r"context_length=512 but model\.context_length=1024"):
        load_pretrained(TTMEncoder(SMALL), str(tmp_path / "ttm512"))


def test_missing_pretrained_folder_is_a_config_error_not_a_fallback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot load TTM weights"):
        load_pretrained(TTMEncoder(SMALL), str(tmp_path / "nothing-here"))


SCALED = SMALL.model_copy(update={"scale_embedding": True})


def test_log_std_over_observed_samples_matches_numpy() -> None:
    x = torch.randn(3, 2, 1024, dtype=torch.float64)
    observed = torch.rand(3, 2, 1024) > 0.4
    ours = log_std(x, observed)
    for b in range(3):
        for c in range(2):
            kept = x[b, c][observed[b, c]].numpy()
            assert ours[b, c, 0].item() == pytest.approx(np.log(kept.std() + 1e-3), abs=1e-12)
    whole = log_std(x)
    np.testing.assert_allclose(whole[..., 0].numpy(), np.log(x.numpy().std(-1) + 1e-3))


def test_scale_embedding_puts_the_log_amplitude_into_pooled_latents() -> None:
    torch.manual_seed(0)
    plain, scaled = TTMEncoder(SMALL).eval(), TTMEncoder(SCALED).eval()
    scaled.backbone.load_state_dict(plain.backbone.state_dict())
    x = torch.randn(2, 2, 1024)
    assert scaled.scale_embedding is not None and plain.scale_embedding is None
    added = scaled(x) - plain(x)  # the same embedding on every patch of a channel
    torch.testing.assert_close(added, added[:, :, :1].expand_as(added))
    expected = scaled.scale_embedding(log_std(x))
    torch.testing.assert_close(added[:, :, 0], expected, rtol=1e-5, atol=1e-5)
