"""Channel inflation (spec 003, design contract 3): weights move by channel name."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ttmbio.errors import ConfigError
from ttmbio.model import inflate as inflate_module
from ttmbio.model.encoder import TTMEncoder
from ttmbio.model.inflate import channel_map, inflate_encoder
from ttmbio.params import ModelParams

SMALL = ModelParams(d_model=16, num_layers=2)
MIX = SMALL.model_copy(update={"mode": "mix_channel"})
PRETRAINED = ["PPG", "ECG"]
BUTPPG = ["ACC_X", "ACC_Y", "ACC_Z", "PPG", "ECG"]
E = MIX.expansion_factor
# what the tests expect to be channel-specific in mix_channel mode: suffix -> block size per axis
CHANNEL_AXES = {
    "channel_feature_mixer.gating_block.attn_layer.weight": (1, 1),
    "channel_feature_mixer.gating_block.attn_layer.bias": (1,),
    "channel_feature_mixer.mlp.fc1.weight": (E, 1),
    "channel_feature_mixer.mlp.fc1.bias": (E,),
    "channel_feature_mixer.mlp.fc2.weight": (1, E),
    "channel_feature_mixer.mlp.fc2.bias": (1,),
}


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def perturbed(cfg: ModelParams, channels: list[str], seed: int = 7) -> TTMEncoder:
    """An encoder whose every tensor is distinct, so a copy from the wrong place shows."""
    torch.manual_seed(seed)
    encoder = TTMEncoder(cfg, channels)
    g = gen(seed)
    with torch.no_grad():
        for tensor in encoder.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(torch.randn(tensor.shape, generator=g))
    return encoder.eval()


def axes_of(name: str) -> tuple[int, ...] | None:
    return next((v for k, v in CHANNEL_AXES.items() if name.endswith("." + k)), None)


def selector(source: list[str], target: list[str]) -> torch.Tensor:
    """[C_t, C_s]: one-hot for a matched channel, the uniform mean for a new one."""
    a = torch.zeros(len(target), len(source))
    for t, name in enumerate(target):
        if name in source:
            a[t, source.index(name)] = 1.0
        else:
            a[t] = 1.0 / len(source)
    return a


def expected_and_new(
    tensor: torch.Tensor, blocks: tuple[int, ...], source: list[str], target: list[str]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The noise-free inflated tensor (as a contraction, independent of the slicing code) and
    the mask of entries touching a new channel."""
    a = selector(source, target)
    cs, ct = len(source), len(target)
    is_new = torch.tensor([name not in source for name in target])
    if len(blocks) == 1:
        (k,) = blocks
        out = torch.einsum("ts,sk->tk", a, tensor.view(cs, k)).reshape(ct * k)
        return out, is_new.repeat_interleave(k)
    ko, ki = blocks
    w = tensor.view(cs, ko, cs, ki)
    out = torch.einsum("ts,uv,skvl->tkul", a, a, w).reshape(ct * ko, ct * ki)
    new = is_new.repeat_interleave(ko)[:, None] | is_new.repeat_interleave(ki)[None, :]
    return out, new


# --------------------------------------------------------------------------- channel_map


def test_channel_map_matches_by_name_not_position() -> None:
    assert channel_map(PRETRAINED, BUTPPG) == {0: None, 1: None, 2: None, 3: 0, 4: 1}
    assert channel_map(PRETRAINED, ["ECG", "PPG"]) == {0: 1, 1: 0}
    assert channel_map(["PPG", "ECG", "ABP"], ["ECG"]) == {0: 1}  # dropping is allowed


def test_unknown_channel_name_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"\['PPGG'\] are not known channel names.*spelling"):
        channel_map(PRETRAINED, ["ACC_X", "PPGG", "ECG"])
    assert channel_map(PRETRAINED, ["EEG", "PPG"], known={"EEG"}) == {0: None, 1: 0}
    assert channel_map(PRETRAINED, ["EEG", "PPG"], known=None) == {0: None, 1: 0}


def test_case_slip_of_a_pretrained_channel_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"\['ppg'\] differ .* only in case.*'PPG'"):
        channel_map(PRETRAINED, ["ppg", "ECG"], known=None)


def test_duplicate_channel_names_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"target channels .* name \['PPG'\] more than once"):
        channel_map(PRETRAINED, ["PPG", "ECG", "PPG"])
    with pytest.raises(ConfigError, match=r"pretrained channels .* more than once"):
        channel_map(["PPG", "PPG"], ["PPG"])


def test_target_without_any_pretrained_channel_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"share no channel.*include at least one"):
        channel_map(PRETRAINED, ["ACC_X", "ACC_Y", "ACC_Z"])
    with pytest.raises(ConfigError, match="share no channel"):
        inflate_encoder(TTMEncoder(SMALL), ["ABP"], gen())


def test_inflate_refuses_bad_names_and_noise() -> None:
    source = TTMEncoder(SMALL)
    with pytest.raises(ConfigError, match="PPGG"):
        inflate_encoder(source, ["PPGG", "ECG"], gen())
    with pytest.raises(ConfigError, match="noise_std"):
        inflate_encoder(source, BUTPPG, gen(), noise_std=-1.0)


# --------------------------------------------------------------------------- common_channel


def test_common_channel_copies_everything_and_keeps_matched_latents() -> None:
    source = perturbed(SMALL, PRETRAINED)
    rng_before = torch.get_rng_state()
    inflated = inflate_encoder(source, BUTPPG, gen())
    assert torch.equal(torch.get_rng_state(), rng_before)  # global RNG untouched
    assert inflated.channels == BUTPPG and not inflated.training
    src, out = source.state_dict(), inflated.state_dict()
    assert src.keys() == out.keys()
    for name in src:
        assert torch.equal(src[name], out[name]), name

    x = torch.randn(3, 2, 1024)
    acc, other_acc = torch.randn(3, 3, 1024), 50 * torch.randn(3, 3, 1024)
    with torch.no_grad():
        z_src = source(x)
        z_a = inflated(torch.cat([acc, x], dim=1))
        z_b = inflated(torch.cat([other_acc, x], dim=1))
    torch.testing.assert_close(z_a[:, 3:], z_src, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(z_b[:, 3:], z_src, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- mix_channel


@pytest.mark.parametrize("target", [BUTPPG, ["ECG", "ACC_X", "PPG"]])
def test_mix_channel_maps_every_channel_specific_tensor(target: list[str]) -> None:
    source = perturbed(MIX, PRETRAINED)
    noise_std = 0.05
    inflated = inflate_encoder(source, target, gen(0), noise_std=noise_std)
    src, out = source.state_dict(), inflated.state_dict()

    specific = [name for name in src if axes_of(name) is not None]
    assert len(specific) == 6 * MIX.num_layers
    for name, tensor in src.items():
        blocks = axes_of(name)
        if blocks is None:
            assert torch.equal(out[name], tensor), name
            continue
        expected, new = expected_and_new(tensor, blocks, PRETRAINED, target)
        assert out[name].shape == expected.shape, name
        assert torch.equal(out[name][~new], expected[~new]), name  # matched: exact copies
        noise = out[name][new] - expected[new]
        fill = expected[new]
        constant = torch.allclose(fill, fill[0].expand_as(fill), rtol=1e-6, atol=0)
        scale = noise_std * (0.0 if constant else fill.std().item()) or noise_std
        assert noise.abs().max() <= 6 * scale, name  # bounded ...
        assert noise.abs().max() > 0, name  # ... but present

    # spot check by hand: ECG->PPG gating entry moves to the targets' ECG row, PPG column
    gate = "backbone.encoder.mlp_mixer_encoder.mixers.0.channel_feature_mixer"
    gate += ".gating_block.attn_layer.weight"
    t_ecg, t_ppg = target.index("ECG"), target.index("PPG")
    assert out[gate][t_ecg, t_ppg] == src[gate][1, 0]


def test_mix_channel_noise_is_seeded() -> None:
    source = perturbed(MIX, PRETRAINED)
    first = inflate_encoder(source, BUTPPG, gen(0)).state_dict()
    again = inflate_encoder(source, BUTPPG, gen(0)).state_dict()
    other = inflate_encoder(source, BUTPPG, gen(1)).state_dict()
    for name in first:
        assert torch.equal(first[name], again[name]), name
        blocks = axes_of(name)
        if blocks is None:
            assert torch.equal(first[name], other[name]), name
            continue
        _, new = expected_and_new(source.state_dict()[name], blocks, PRETRAINED, BUTPPG)
        assert torch.equal(first[name][~new], other[name][~new]), name
        assert not torch.equal(first[name][new], other[name][new]), name


def test_mix_channel_reorder_is_permutation_equivariant() -> None:
    # float64: the perturbed weights amplify float32 rounding; equivariance itself is exact
    source = perturbed(MIX, PRETRAINED).double()
    swapped = inflate_encoder(source, ["ECG", "PPG"], gen())
    assert swapped.channels == ["ECG", "PPG"]
    assert next(swapped.parameters()).dtype == torch.float64
    x = torch.randn(4, 2, 1024, dtype=torch.float64)
    with torch.no_grad():
        z = source(x)
        torch.testing.assert_close(swapped(x.flip(1)), z.flip(1), rtol=1e-9, atol=1e-9)
        # a positional copy (what a by-index load would give) is not equivariant: the test bites
        positional = TTMEncoder(MIX, ["ECG", "PPG"]).double().eval()
        positional.load_state_dict(source.state_dict())
        assert not torch.allclose(positional(x.flip(1)), z.flip(1), rtol=1e-4, atol=1e-5)


def test_mix_channel_inflated_model_runs() -> None:
    inflated = inflate_encoder(perturbed(MIX, PRETRAINED), BUTPPG, gen()).eval()
    with torch.no_grad():
        z = inflated(torch.randn(2, 5, 1024))
    assert z.shape == (2, 5, MIX.n_patches, MIX.d_model)
    assert torch.isfinite(z).all()


def test_adaptive_patching_layers_are_inflated_too() -> None:
    cfg = MIX.model_copy(update={"adaptive_patching_levels": 1, "d_model": 32})
    source = perturbed(cfg, PRETRAINED)
    inflated = inflate_encoder(source, BUTPPG, gen())
    fc1 = [n for n in inflated.state_dict() if n.endswith("channel_feature_mixer.mlp.fc1.weight")]
    assert fc1 and all("mixer_layers" in n for n in fc1)
    for name in fc1:
        assert inflated.state_dict()[name].shape == (5 * E, 5)


def test_a_channel_specific_tensor_unknown_to_the_table_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(inflate_module._CHANNEL_AXES, "channel_feature_mixer.mlp.fc1.weight")
    with pytest.raises(ConfigError, match=r"cannot inflate .*channel_feature_mixer\.mlp\.fc1\."):
        inflate_encoder(perturbed(MIX, PRETRAINED), BUTPPG, gen())


def test_scale_embedding_is_shared_by_channels_and_copied() -> None:
    cfg = SMALL.model_copy(update={"scale_embedding": True})
    source = TTMEncoder(cfg, ["PPG", "ECG"]).eval()
    target = inflate_encoder(source, ["ACC_X", "ACC_Y", "ACC_Z", "PPG", "ECG"], gen()).eval()
    assert target.scale_embedding is not None and source.scale_embedding is not None
    for name, tensor in source.scale_embedding.state_dict().items():
        assert torch.equal(target.scale_embedding.state_dict()[name], tensor)
    x = torch.randn(2, 5, cfg.context_length)
    torch.testing.assert_close(target(x)[:, 3:], source(x[:, 3:]), rtol=0, atol=0)


def test_checkpoint_with_another_scale_embedding_is_refused(tmp_path: Path) -> None:
    from ttmbio.training.meta import check_compatible, encoder_meta

    path = tmp_path / "best.pt"
    model = SMALL.model_dump(mode="json")
    ckpt = {
        "encoder": {},
        "channels": model["channels"],
        "config": {"model": dict(model, scale_embedding=True)},
    }
    with pytest.raises(ConfigError, match=r"model\.scale_embedding=True but params say"):
        check_compatible(encoder_meta(ckpt, path), path, SMALL)
    older = {k: v for k, v in model.items() if k != "scale_embedding"}  # before the param
    ckpt["config"] = {"model": older}
    check_compatible(encoder_meta(ckpt, path), path, SMALL)
