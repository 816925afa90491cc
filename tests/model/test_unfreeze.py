from __future__ import annotations

import pytest
import torch
from torch import nn

from ttmbio.errors import ConfigError
from ttmbio.model.encoder import TTMEncoder
from ttmbio.model.heads import ClassifierHead, EncoderClassifier
from ttmbio.model.unfreeze import block_parameter_counts, set_stage, trainable_count
from ttmbio.params import ModelParams

SMALL = ModelParams(d_model=16, num_layers=3)


def make_model(hidden_dims: tuple[int, ...] = (8,)) -> EncoderClassifier:
    return EncoderClassifier(TTMEncoder(SMALL), ClassifierHead(2, 16, 2, hidden_dims=hidden_dims))


def numel(params: object) -> int:
    return sum(p.numel() for p in params)  # type: ignore[attr-defined]


def trainable_ids(model: nn.Module) -> set[int]:
    return {id(p) for p in model.parameters() if p.requires_grad}


def test_head_stage_trains_exactly_the_head() -> None:
    model = make_model()
    set_stage(model, "head")
    assert trainable_count(model) == numel(model.head.parameters())
    assert trainable_ids(model) == {id(p) for p in model.head.parameters()}


@pytest.mark.parametrize("n", [1, 2, 3])
def test_last_n_stage_trains_last_blocks_and_head(n: int) -> None:
    model = make_model()
    set_stage(model, "head")  # stages are absolute: the order of calls does not matter
    set_stage(model, "last_n", last_n=n)
    blocks = list(model.encoder.blocks)
    expected = numel(model.head.parameters()) + sum(numel(b.parameters()) for b in blocks[-n:])
    assert trainable_count(model) == expected
    assert trainable_ids(model) == {id(p) for p in model.head.parameters()} | {
        id(p) for b in blocks[-n:] for p in b.parameters()
    }
    # patching/embedding and earlier blocks stay frozen
    assert not any(p.requires_grad for p in model.encoder.backbone.encoder.patcher.parameters())
    assert not any(p.requires_grad for b in blocks[:-n] for p in b.parameters())
    assert sum(block_parameter_counts(model)[-n:]) == expected - numel(model.head.parameters())


def test_all_stage_trains_everything() -> None:
    model = make_model()
    set_stage(model, "last_n", last_n=1)
    set_stage(model, "all")
    assert trainable_count(model) == numel(model.parameters())
    set_stage(model, "head")  # and back
    assert trainable_count(model) == numel(model.head.parameters())


def test_block_parameter_counts_cover_each_block_once() -> None:
    model = make_model()
    counts = block_parameter_counts(model)
    assert len(counts) == SMALL.num_layers
    assert counts == [numel(b.parameters()) for b in model.encoder.blocks]
    outside = numel(model.encoder.backbone.encoder.patcher.parameters())
    assert sum(counts) + outside == numel(model.encoder.parameters())


@pytest.mark.parametrize("n", [0, -1, 4])
def test_last_n_out_of_range_is_a_config_error(n: int) -> None:
    with pytest.raises(ConfigError, match=rf"finetune.unfreeze_last_n={n}.*3 blocks"):
        set_stage(make_model(), "last_n", last_n=n)


def test_unknown_stage_is_refused() -> None:
    with pytest.raises(ValueError, match="stage"):
        set_stage(make_model(), "encoder")  # type: ignore[arg-type]


def test_shared_parameter_is_counted_once() -> None:
    shared = nn.Linear(4, 4)
    tied = nn.Sequential(shared, nn.ReLU(), shared)
    assert trainable_count(tied) == 20
    shared.bias.requires_grad_(False)
    assert trainable_count(tied) == 16


def test_frozen_parameters_get_no_gradient() -> None:
    torch.manual_seed(0)
    model = make_model()
    set_stage(model, "last_n", last_n=1)
    model(torch.randn(2, 2, 1024)).sum().backward()
    first, last = model.encoder.blocks[0], model.encoder.blocks[-1]
    assert all(p.grad is None for p in first.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in last.parameters())
