"""Task heads on the encoder's ``[B, C, P, D]`` latents (classification or regression).

A head pools the latents over patches, then either concatenates the channels
(``"mean_concat"``: ``C * D`` features, channel-specific) or averages them (``"mean_mean"``:
``D`` features, channel-agnostic), and maps the result through a linear layer or a small MLP.
``norm="batch"`` standardises the pooled features first. Regression is the same head with
``n_outputs=1``.

For ``"mean_concat"`` the first Linear's input columns are ordered by channel: columns
``[c * D, (c + 1) * D)`` read channel ``c`` (``features_per_channel = D``). Channel inflation
(design contract 3) maps those column blocks by channel name through :attr:`input_layer`
rather than searching for parameter names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import torch
from torch import nn

Pooling = Literal["mean_concat", "mean_mean"]
Norm = Literal["none", "batch"]
Activation = Literal["gelu", "relu"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {"gelu": nn.GELU, "relu": nn.ReLU}


class FeatureStandardizer(nn.BatchNorm1d):
    """Batch normalisation without affine parameters over the last axis (MAE's linear-probe
    head, He et al. 2022): pretrained latents come at their own scales, and the few labelled
    windows of a small label fraction cannot afford to learn them. A training batch of one
    window (a split's remainder) is normalised with the running statistics."""

    def __init__(self, width: int) -> None:
        super().__init__(width, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        if self.training and flat.shape[0] == 1:
            out = nn.functional.batch_norm(
                flat, self.running_mean, self.running_var, training=False, eps=self.eps
            )
        else:
            out = super().forward(flat)
        return out.reshape(x.shape)


class ClassifierHead(nn.Module):
    """``[B, C, P, D]`` latents -> ``[B, n_outputs]`` logits (or one regression output).

    ``hidden_dims`` empty gives a linear head (FM mode's minimal head); otherwise each hidden
    width adds ``Linear -> activation -> Dropout`` before the output Linear. ``dropout`` only
    acts inside the MLP: a linear head has no dropout layer.
    """

    def __init__(
        self,
        n_channels: int,
        d_model: int,
        n_outputs: int,
        pooling: Pooling = "mean_concat",
        hidden_dims: Sequence[int] = (),
        dropout: float = 0.0,
        activation: Activation = "gelu",
        norm: Norm = "none",
    ) -> None:
        super().__init__()
        for name, value in (("n_channels", n_channels), ("d_model", d_model)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if n_outputs < 1:
            raise ValueError(f"n_outputs must be >= 1 (1 for regression), got {n_outputs}")
        if pooling not in get_args(Pooling):
            raise ValueError(f"pooling must be one of {list(get_args(Pooling))}, got {pooling!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        if norm not in get_args(Norm):
            raise ValueError(f"norm must be one of {list(get_args(Norm))}, got {norm!r}")
        if any(h < 1 for h in hidden_dims):
            raise ValueError(f"hidden_dims must all be >= 1, got {list(hidden_dims)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")

        self.n_channels = n_channels
        self.d_model = d_model
        self.n_outputs = n_outputs
        self.pooling: Pooling = pooling
        self.hidden_dims = tuple(hidden_dims)

        width = n_channels * d_model if pooling == "mean_concat" else d_model
        self.norm = FeatureStandardizer(width) if norm == "batch" else nn.Identity()
        layers: list[nn.Module] = []
        for hidden in self.hidden_dims:
            layers += [nn.Linear(width, hidden), _ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, n_outputs))
        self.net = nn.Sequential(*layers)

    @property
    def channel_specific(self) -> bool:
        """True when the first Linear has separate weights per channel (``"mean_concat"``)."""
        return self.pooling == "mean_concat"

    @property
    def features_per_channel(self) -> int:
        """Input columns of :attr:`input_layer` per channel (``d_model``), channel-major."""
        return self.d_model

    @property
    def input_layer(self) -> nn.Linear:
        """The first Linear: the only layer that sees channels (when ``channel_specific``)."""
        first = self.net[0]
        assert isinstance(first, nn.Linear)
        return first

    def pool(self, latents: torch.Tensor) -> torch.Tensor:
        """``[B, C, P, D]`` -> ``[B, C*D]`` or ``[B, D]``; refuses any other shape."""
        expected = (self.n_channels, self.d_model)
        if latents.dim() != 4 or (latents.shape[1], latents.shape[3]) != expected:
            raise ValueError(
                f"head expects latents [B, {self.n_channels}, P, {self.d_model}] "
                f"(batch, channels, patches, d_model), got {list(latents.shape)}"
            )
        per_channel = latents.mean(dim=2)  # [B, C, D]
        if self.pooling == "mean_concat":
            return per_channel.flatten(start_dim=1)  # channel-major: channel c at [c*D, (c+1)*D)
        return per_channel.mean(dim=1)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.net(self.norm(self.pool(latents)))


class EncoderClassifier(nn.Module):
    """Encoder plus head: ``[B, C, T]`` windows -> ``[B, n_outputs]`` logits."""

    def __init__(self, encoder: nn.Module, head: ClassifierHead) -> None:
        super().__init__()
        channels = getattr(encoder, "channels", None)
        if channels is not None and len(channels) != head.n_channels:
            raise ValueError(
                f"head has n_channels={head.n_channels} but the encoder reads "
                f"{len(channels)} channels {list(channels)}"
            )
        cfg = getattr(encoder, "cfg", None)
        d_model = getattr(cfg, "d_model", None)
        if d_model is not None and d_model != head.d_model:
            raise ValueError(f"head has d_model={head.d_model} but the encoder has {d_model}")
        self.encoder = encoder
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))
