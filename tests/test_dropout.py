"""FastDropout: nn.Dropout's maths with a cheaper CPU mask."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ttmbio.dropout import FastDropout, keep_mask, use_fast_dropout
from ttmbio.model.encoder import TTMEncoder
from ttmbio.params import ModelParams


def test_every_lane_keeps_one_minus_p() -> None:
    """Four 15-bit lanes per 64-bit draw: each lane alone must drop p (binomial 5 sd)."""
    torch.manual_seed(0)
    mask = keep_mask(torch.Size([400_000]), 0.1)
    for lane in range(4):
        kept = mask[lane::4].double().mean().item()
        assert kept == pytest.approx(0.9, abs=5 * (0.09 / 100_000) ** 0.5)
    # neighbours are independent: both kept as often as 0.9^2
    both = (mask[:-1] & mask[1:]).double().mean().item()
    assert both == pytest.approx(0.81, abs=0.005)


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5])
def test_train_mode_is_inverted_dropout(p: float) -> None:
    torch.manual_seed(1)
    x = torch.randn(64, 2, 16, 32, requires_grad=True)
    out = FastDropout(p).train()(x)
    kept = out != 0
    assert torch.allclose(out[kept], x[kept] / (1 - p))
    assert kept.double().mean().item() == pytest.approx(1 - p, abs=0.01)
    out.sum().backward()
    assert torch.allclose(x.grad, kept.to(x.dtype) / (1 - p))


def test_eval_mode_is_identity_and_seed_repeats_the_mask() -> None:
    x = torch.randn(8, 100)
    drop = FastDropout(0.3)
    assert drop.eval()(x) is x
    drop.train()
    torch.manual_seed(5)
    a = drop(x)
    torch.manual_seed(5)
    assert torch.equal(a, drop(x))
    assert not torch.equal(a, drop(x))


def test_bad_probability_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        FastDropout(1.5)


def test_encoder_uses_it_and_keeps_its_state_dict() -> None:
    cfg = ModelParams(d_model=16, num_layers=2, dropout=0.2)
    encoder = TTMEncoder(cfg)
    kinds = {type(m) for m in encoder.modules()}
    assert FastDropout in kinds and nn.Dropout not in kinds
    plain = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.2))
    before = set(plain.state_dict())
    use_fast_dropout(plain)
    assert isinstance(plain[1], FastDropout) and plain[1].p == 0.2
    assert set(plain.state_dict()) == before


def _reference_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """The mask as the module docstring defines it, built the plain way (bool compare and
    torch.where): the in-place int16 path must give these values bit for bit."""
    n = x.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64).random_()
    lanes = words.view(torch.int16)[:n].view(x.shape)
    mask = (lanes & (2**15 - 1)) >= round(p * 2**15)
    return x * torch.where(mask, 1.0 / (1.0 - p), 0.0).to(x.dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])  # training dtypes
@pytest.mark.parametrize(("shape", "p"), [((64, 2, 16, 32), 0.1), ((3, 7, 5), 0.35)])
def test_outputs_and_gradients_match_the_plain_mask_bit_for_bit(
    dtype: torch.dtype, shape: tuple[int, ...], p: float
) -> None:
    x = torch.randn(shape, dtype=dtype)
    x[0, 0] = -x[0, 0].abs()  # negatives: dropped ones keep their sign (-0.0) as x * 0 does
    ref_x, x = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.manual_seed(11)
    expected = _reference_dropout(ref_x, p)
    torch.manual_seed(11)
    out = FastDropout(p).train()(x)
    assert out.dtype == dtype
    bits = {2: torch.int16, 4: torch.int32, 8: torch.int64}[dtype.itemsize]  # -0.0 != 0.0
    assert torch.equal(out.detach().view(bits), expected.detach().view(bits))
    grad = torch.randn(shape, dtype=dtype)
    out.backward(grad)
    expected.backward(grad)
    assert torch.equal(x.grad.view(bits), ref_x.grad.view(bits))


def test_a_probability_that_rounds_to_one_drops_everything() -> None:
    """p within 2^-16 of 1 rounds to 2^15 / 2^15, a threshold int16 cannot hold (it wrapped
    to -2^15 and kept every element, scaled by 1 / (1 - p))."""
    x = torch.randn(4, 1000)
    assert not keep_mask(x.shape, 0.999999).any()
    assert torch.equal(FastDropout(0.999999).train()(x), torch.zeros_like(x))
