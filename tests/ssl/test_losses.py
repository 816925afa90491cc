"""Masked losses count only hidden samples, the STFT loss is validated and differentiable, and
the linear-interpolation baseline matches np.interp."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ttmbio.ssl.losses import (
    MultiResolutionSTFTLoss,
    STFTResolution,
    linear_interpolation_baseline,
    masked_mse,
    masked_nmse,
)
from ttmbio.ssl.masking import expand_to_samples, patch_mask

T = 1024
RESOLUTIONS = [STFTResolution(256, 64), STFTResolution(512, 128)]


def _t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).reshape(1, 1, -1)


def _m(*values: bool) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.bool).reshape(1, 1, -1)


def _random_case(seed: int = 0, b: int = 4, c: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, c, T, generator=g)
    mask = expand_to_samples(patch_mask(b, c, T // 64, 0.4, "block", g), 64)
    return x, mask


# -- masked_mse ------------------------------------------------------------------------------


def test_masked_mse_hand_computed() -> None:
    target = _t(1.0, 2.0, 3.0, 4.0)
    pred = _t(1.0, 0.0, 3.0, 7.0)
    mask = _m(False, True, False, True)
    assert masked_mse(pred, target, mask).item() == pytest.approx((4.0 + 9.0) / 2)


def test_masked_mse_ignores_unmasked_positions() -> None:
    target, mask = _random_case()
    pred = torch.randn_like(target)
    base = masked_mse(pred, target, mask)
    changed = torch.where(mask, pred, pred + 100.0)
    assert masked_mse(changed, target, mask).item() == pytest.approx(base.item(), rel=1e-6)
    changed[~mask] = float("nan")
    assert masked_mse(changed, target, mask).item() == pytest.approx(base.item(), rel=1e-6)


def test_masked_mse_matches_boolean_indexing_and_is_differentiable() -> None:
    target, mask = _random_case(1)
    pred = torch.randn_like(target, requires_grad=True)
    loss = masked_mse(pred, target, mask)
    ref = ((pred[mask] - target[mask]) ** 2).mean()
    assert loss.ndim == 0
    torch.testing.assert_close(loss, ref)
    loss.backward()
    assert pred.grad is not None
    assert (pred.grad[~mask] == 0).all()
    assert (pred.grad[mask] != 0).any()


def test_masked_losses_reject_empty_mask_and_shape_mismatch() -> None:
    x = torch.randn(2, 1, 64)
    empty = torch.zeros(2, 1, 64, dtype=torch.bool)
    for fn in (masked_mse, masked_nmse):
        with pytest.raises(ValueError, match="no sample"):
            fn(x, x, empty)
        with pytest.raises(ValueError, match="shape"):
            fn(x, x[..., :32], empty)


# -- masked_nmse -----------------------------------------------------------------------------


def test_masked_nmse_hand_computed() -> None:
    target = _t(0.0, 1.0, 2.0, 5.0)  # mean over all T = 2
    pred = _t(9.0, 2.0, 9.0, 3.0)
    mask = _m(False, True, False, True)
    # ((2-1)^2 + (3-5)^2) / ((1-2)^2 + (5-2)^2) = 5 / 10
    assert masked_nmse(pred, target, mask).item() == pytest.approx(0.5)


def test_masked_nmse_perfect_is_zero_and_mean_is_one() -> None:
    target, mask = _random_case(2)
    assert masked_nmse(target.clone(), target, mask).item() == 0.0
    mean_pred = target.mean(dim=-1, keepdim=True).expand_as(target)
    assert masked_nmse(mean_pred, target, mask).item() == pytest.approx(1.0, rel=1e-5)


def test_masked_nmse_pools_over_batch() -> None:
    target, mask = _random_case(3)
    pred = torch.randn_like(target)
    mu = target.mean(dim=-1, keepdim=True)
    num = ((pred - target) ** 2)[mask].sum()
    den = ((target - mu) ** 2)[mask].sum()
    torch.testing.assert_close(masked_nmse(pred, target, mask), num / den)


# -- MultiResolutionSTFTLoss -----------------------------------------------------------------


def test_stft_loss_zero_for_identical_inputs() -> None:
    loss_fn = MultiResolutionSTFTLoss(RESOLUTIONS, T)
    x, _ = _random_case()
    assert loss_fn(x, x.clone()).item() == 0.0


def test_stft_loss_positive_finite_and_differentiable() -> None:
    loss_fn = MultiResolutionSTFTLoss(RESOLUTIONS, T)
    target, _ = _random_case(4)
    pred = torch.randn_like(target, requires_grad=True)
    loss = loss_fn(pred, target)
    assert loss.ndim == 0
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    assert pred.grad is not None
    assert torch.isfinite(pred.grad).all()
    assert (pred.grad != 0).any()


def test_stft_loss_matches_hand_computation() -> None:
    n, n_fft, hop, win, eps = 64, 16, 4, 12, 1e-5
    g = torch.Generator().manual_seed(5)
    pred = torch.randn(2, 3, n, generator=g)
    target = torch.randn(2, 3, n, generator=g)
    loss_fn = MultiResolutionSTFTLoss([STFTResolution(n_fft, hop, win)], n, eps=eps)

    def log_mag(x: torch.Tensor) -> torch.Tensor:
        s = torch.stft(
            x.reshape(-1, n),
            n_fft=n_fft,
            hop_length=hop,
            win_length=win,
            window=torch.hann_window(win),
            center=True,
            return_complex=True,
        )
        return torch.log(s.abs() + eps)

    expected = (log_mag(pred) - log_mag(target)).abs().mean()
    torch.testing.assert_close(loss_fn(pred, target), expected)


def test_stft_loss_averages_resolutions() -> None:
    target, _ = _random_case(6, b=2)
    pred = torch.randn_like(target)
    each = [MultiResolutionSTFTLoss([r], T)(pred, target) for r in RESOLUTIONS]
    torch.testing.assert_close(
        MultiResolutionSTFTLoss(RESOLUTIONS, T)(pred, target), torch.stack(each).mean()
    )


def test_stft_windows_are_buffers_outside_state_dict() -> None:
    loss_fn = MultiResolutionSTFTLoss(RESOLUTIONS, T)
    assert len(list(loss_fn.buffers())) == len(RESOLUTIONS)
    assert loss_fn.state_dict() == {}


def test_stft_n_fft_too_large_raises_naming_it() -> None:
    with pytest.raises(ValueError, match="n_fft=2048"):
        MultiResolutionSTFTLoss([STFTResolution(256, 64), STFTResolution(2048, 512)], T)


@pytest.mark.parametrize(
    ("res", "match"),
    [
        (STFTResolution(256, 0), "hop_length=0"),
        (STFTResolution(256, 64, 512), "win_length=512"),
        (STFTResolution(0, 64), "n_fft=0"),
    ],
)
def test_stft_invalid_resolution_raises(res: STFTResolution, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MultiResolutionSTFTLoss([res], T)


def test_stft_rejects_empty_and_wrong_length() -> None:
    with pytest.raises(ValueError, match="at least one"):
        MultiResolutionSTFTLoss([], T)
    loss_fn = MultiResolutionSTFTLoss(RESOLUTIONS, T)
    x = torch.randn(1, 1, T // 2)
    with pytest.raises(ValueError, match="signal_length"):
        loss_fn(x, x)


# -- linear_interpolation_baseline -----------------------------------------------------------


def test_baseline_reconstructs_a_ramp() -> None:
    ramp = torch.linspace(-3.0, 5.0, T).expand(2, 2, T).contiguous()
    mask = torch.zeros(2, 2, T, dtype=torch.bool)
    mask[..., 100:400] = True
    mask[..., 700:701] = True
    out = linear_interpolation_baseline(ramp, mask)
    torch.testing.assert_close(out, ramp, atol=1e-5, rtol=0)


def test_baseline_holds_edges_and_keeps_visible() -> None:
    x = _t(9.0, 9.0, 1.0, 5.0, 3.0, 9.0, 9.0)
    mask = _m(True, True, False, True, False, True, True)
    out = linear_interpolation_baseline(x, mask)
    torch.testing.assert_close(out, _t(1.0, 1.0, 1.0, 2.0, 3.0, 3.0, 3.0))


def test_baseline_all_masked_row_is_zero_and_input_untouched() -> None:
    x = torch.randn(2, 2, T)
    original = x.clone()
    mask = torch.zeros(2, 2, T, dtype=torch.bool)
    mask[1, 0] = True
    mask[0, 1, :64] = True
    out = linear_interpolation_baseline(x, mask)
    assert (out[1, 0] == 0).all()
    assert torch.equal(out[~mask], x[~mask])
    assert torch.equal(x, original)


def test_baseline_matches_np_interp_on_random_data() -> None:
    g = torch.Generator().manual_seed(9)
    b, c = 16, 2
    x = torch.randn(b, c, T, generator=g)
    mask = expand_to_samples(
        patch_mask(b, c, T // 64, 0.6, "random", g, shared_across_channels=False), 64
    )
    mask[0, 0, :5] = True  # sample-level masks, not only whole patches
    mask[0, 0, -3:] = True
    mask[1, 1, 3::7] = True
    out = linear_interpolation_baseline(x, mask).numpy()
    xs, ms = x.numpy().astype(np.float64), mask.numpy()
    t = np.arange(T)
    for i in range(b):
        for j in range(c):
            vis = ~ms[i, j]
            ref = np.interp(t, t[vis], xs[i, j, vis])
            np.testing.assert_allclose(out[i, j], ref, atol=1e-5, rtol=0)
