from __future__ import annotations

import pytest
import torch

from ttmbio.model.encoder import TTMEncoder
from ttmbio.model.heads import ClassifierHead, EncoderClassifier
from ttmbio.params import ModelParams

SMALL = ModelParams(d_model=16, num_layers=2)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("n_channels", [1, 2, 5])
@pytest.mark.parametrize("pooling", ["mean_concat", "mean_mean"])
@pytest.mark.parametrize("hidden_dims", [(), (8, 4)])
def test_output_shape(n_channels: int, pooling: str, hidden_dims: tuple[int, ...]) -> None:
    head = ClassifierHead(n_channels, 16, 3, pooling=pooling, hidden_dims=hidden_dims)  # type: ignore[arg-type]
    assert head(torch.randn(4, n_channels, 7, 16)).shape == (4, 3)
    width = n_channels * 16 if pooling == "mean_concat" else 16
    assert head.input_layer.in_features == width
    assert head.channel_specific == (pooling == "mean_concat")


def test_linear_and_mlp_parameter_counts_by_hand() -> None:
    c, d, k = 5, 16, 3
    assert n_params(ClassifierHead(c, d, k)) == c * d * k + k
    assert n_params(ClassifierHead(c, d, k, pooling="mean_mean")) == d * k + k
    mlp = ClassifierHead(c, d, k, hidden_dims=(32, 8), dropout=0.2, activation="relu")
    assert n_params(mlp) == (c * d * 32 + 32) + (32 * 8 + 8) + (8 * k + k)
    kinds = [type(m).__name__ for m in mlp.net]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert [type(m).__name__ for m in ClassifierHead(c, d, 1).net] == ["Linear"]


def test_pooling_math() -> None:
    latents = torch.randn(2, 3, 5, 4)
    concat = ClassifierHead(3, 4, 1, pooling="mean_concat")
    mean = ClassifierHead(3, 4, 1, pooling="mean_mean")
    per_channel = latents.mean(dim=2)
    torch.testing.assert_close(concat.pool(latents), per_channel.reshape(2, 12))
    torch.testing.assert_close(mean.pool(latents), per_channel.mean(dim=1))


def test_mean_concat_columns_are_channel_major() -> None:
    """Columns [c*D, (c+1)*D) of the first Linear read channel c only (what inflation maps)."""
    head = ClassifierHead(3, 4, 1)
    assert head.features_per_channel == 4
    latents = torch.zeros(1, 3, 2, 4)
    latents[0, 1] = 1.0  # only channel 1 is non-zero
    with torch.no_grad():
        head.input_layer.weight.zero_()
        head.input_layer.bias.zero_()
        head.input_layer.weight[0, 4:8] = 1.0  # channel 1's block
    assert head(latents).item() == pytest.approx(4.0)
    with torch.no_grad():
        head.input_layer.weight[0].zero_()
        head.input_layer.weight[0, 0:4] = 1.0  # channel 0's block sees nothing
        head.input_layer.weight[0, 8:12] = 1.0  # nor does channel 2's
    assert head(latents).item() == 0.0


@pytest.mark.parametrize(
    "shape", [(2, 2, 16), (2, 3, 4, 16), (2, 2, 4, 8), (2, 2, 4, 16, 1)], ids=str
)
def test_bad_latent_shape_is_refused(shape: tuple[int, ...]) -> None:
    head = ClassifierHead(2, 16, 2)
    with pytest.raises(ValueError, match=r"head expects latents \[B, 2, P, 16\]"):
        head(torch.randn(*shape))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_outputs": 0}, "n_outputs"),
        ({"pooling": "max"}, "pooling"),
        ({"activation": "tanh"}, "activation"),
        ({"hidden_dims": (8, 0)}, "hidden_dims"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"n_channels": 2, "d_model": 16, "n_outputs": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        ClassifierHead(**args)  # type: ignore[arg-type]


def test_encoder_classifier_end_to_end() -> None:
    cfg = SMALL.model_copy(update={"channels": ["ACC_X", "ACC_Y", "ACC_Z", "PPG", "ECG"]})
    model = EncoderClassifier(TTMEncoder(cfg), ClassifierHead(5, 16, 2, hidden_dims=(8,)))
    assert model(torch.randn(3, 5, 1024)).shape == (3, 2)
    regressor = EncoderClassifier(TTMEncoder(SMALL), ClassifierHead(2, 16, 1, "mean_mean"))
    assert regressor(torch.randn(3, 2, 1024)).shape == (3, 1)


def test_head_that_does_not_fit_the_encoder_is_refused() -> None:
    with pytest.raises(ValueError, match="n_channels=3"):
        EncoderClassifier(TTMEncoder(SMALL), ClassifierHead(3, 16, 2))
    with pytest.raises(ValueError, match="d_model=64"):
        EncoderClassifier(TTMEncoder(SMALL), ClassifierHead(2, 64, 2))


def test_batch_norm_head_standardises_pooled_features_and_takes_a_batch_of_one() -> None:
    torch.manual_seed(0)
    head = ClassifierHead(2, 4, 1, hidden_dims=(3,), norm="batch").train()
    latents = 50 + 10 * torch.randn(64, 2, 6, 4)  # far from unit scale
    pooled = head.pool(latents)
    normed = head.norm(pooled)
    torch.testing.assert_close(normed.mean(0), torch.zeros(8), atol=1e-5, rtol=0)
    torch.testing.assert_close(normed.std(0, correction=0), torch.ones(8), atol=1e-3, rtol=0)
    assert head(latents[:1]).shape == (1, 1)  # the remainder batch of one window
    head.eval()
    running = (pooled[:1] - head.norm.running_mean) / torch.sqrt(head.norm.running_var + 1e-5)
    torch.testing.assert_close(head.norm(pooled[:1]), running)
    assert not any(p.requires_grad for p in head.norm.parameters())  # no affine parameters


def test_unknown_norm_is_refused() -> None:
    with pytest.raises(ValueError, match="norm must be one of"):
        ClassifierHead(2, 4, 1, norm="layer")  # type: ignore[arg-type]
