"""Patch masks hide exactly the configured count, in contiguous runs for "block", reproducibly."""

from __future__ import annotations

import pytest
import torch

from ttmbio.ssl.masking import apply_mask, expand_to_samples, masked_patch_count, patch_mask

P = 16
RATIOS = [0.1, 0.4, 0.6]
KINDS = ["random", "block"]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _runs(row: torch.Tensor) -> list[int]:
    """Lengths of the maximal runs of True in a 1-D bool tensor."""
    runs, current = [], 0
    for v in row.tolist():
        if v:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    if current:
        runs.append(current)
    return runs


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ratio", RATIOS)
def test_exact_count_per_row(ratio: float, kind: str, shared: bool) -> None:
    mask = patch_mask(64, 2, P, ratio, kind, _gen(), shared_across_channels=shared)
    assert mask.shape == (64, 2, P)
    assert mask.dtype == torch.bool
    expected = round(ratio * P)
    assert expected == masked_patch_count(P, ratio)
    assert (mask.sum(dim=-1) == expected).all()


def test_count_clamped_to_keep_one_masked_and_one_visible() -> None:
    assert masked_patch_count(P, 0.0) == 0
    assert masked_patch_count(P, 0.01) == 1
    assert masked_patch_count(P, 0.99) == P - 1
    for kind in KINDS:
        assert (patch_mask(8, 1, P, 0.01, kind, _gen()).sum(-1) == 1).all()
        assert (patch_mask(8, 1, P, 0.99, kind, _gen()).sum(-1) == P - 1).all()
        assert not patch_mask(8, 3, P, 0.0, kind, _gen()).any()


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_invalid_ratio_raises(bad: float) -> None:
    with pytest.raises(ValueError, match="ratio"):
        patch_mask(2, 1, P, bad, "random", _gen())


def test_invalid_arguments_raise() -> None:
    with pytest.raises(ValueError, match="kind"):
        patch_mask(2, 1, P, 0.4, "stripes", _gen())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="block_patches"):
        patch_mask(2, 1, P, 0.4, "block", _gen(), block_patches=0)
    with pytest.raises(ValueError, match="n_patches"):
        patch_mask(2, 1, 1, 0.4, "random", _gen())


@pytest.mark.parametrize("block", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("ratio", RATIOS)
def test_block_runs_are_contiguous(ratio: float, block: int) -> None:
    mask = patch_mask(200, 1, P, ratio, "block", _gen(block), block_patches=block)
    k = round(ratio * P)
    n_runs = -(-k // block)
    shortest = k % block or block
    for row in mask[:, 0]:
        runs = _runs(row)
        assert sum(runs) == k
        # runs never overlap; touching runs merge, so there are at most n_runs maximal runs
        assert 1 <= len(runs) <= n_runs
        assert min(runs) >= shortest


def test_block_masks_are_clumpier_than_random() -> None:
    block = patch_mask(500, 1, P, 0.4, "block", _gen(), block_patches=3)
    rand = patch_mask(500, 1, P, 0.4, "random", _gen())
    n_block = sum(len(_runs(r)) for r in block[:, 0]) / 500
    n_rand = sum(len(_runs(r)) for r in rand[:, 0]) / 500
    assert n_block <= 3  # ceil(6 / 3) runs at most
    assert n_rand > n_block


def test_block_placement_covers_every_patch() -> None:
    # runs are placed at random, not always at the same offset
    mask = patch_mask(500, 1, P, 0.4, "block", _gen(), block_patches=3)
    assert mask[:, 0].any(dim=0).all()
    assert (~mask[:, 0]).any(dim=0).all()


@pytest.mark.parametrize("kind", KINDS)
def test_shared_across_channels(kind: str) -> None:
    mask = patch_mask(32, 5, P, 0.4, kind, _gen(), shared_across_channels=True)
    assert (mask == mask[:, :1]).all()
    independent = patch_mask(32, 5, P, 0.4, kind, _gen(), shared_across_channels=False)
    assert not (independent == independent[:, :1]).all()


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_deterministic_given_seed(kind: str, shared: bool) -> None:
    args = (32, 2, P, 0.4, kind)
    a = patch_mask(*args, _gen(7), shared_across_channels=shared)
    b = patch_mask(*args, _gen(7), shared_across_channels=shared)
    c = patch_mask(*args, _gen(8), shared_across_channels=shared)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_successive_draws_differ() -> None:
    g = _gen(3)
    assert not torch.equal(
        patch_mask(32, 2, P, 0.4, "random", g), patch_mask(32, 2, P, 0.4, "random", g)
    )


def test_expand_to_samples_alignment() -> None:
    patch_length = 64
    mask = patch_mask(4, 3, P, 0.4, "random", _gen())
    samples = expand_to_samples(mask, patch_length)
    assert samples.shape == (4, 3, P * patch_length)
    assert samples.dtype == torch.bool
    t = torch.arange(P * patch_length)
    assert torch.equal(samples, mask[..., t // patch_length])


def test_expand_to_samples_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="bool"):
        expand_to_samples(torch.zeros(2, 1, P), 64)
    with pytest.raises(ValueError, match="patch_length"):
        expand_to_samples(torch.zeros(2, 1, P, dtype=torch.bool), 0)


def test_apply_mask_zeros_exactly_masked_and_leaves_input() -> None:
    x = torch.randn(4, 2, P * 64) + 3.0  # offset so no original sample is 0
    original = x.clone()
    sample_mask = expand_to_samples(patch_mask(4, 2, P, 0.4, "block", _gen()), 64)
    out = apply_mask(x, sample_mask)
    assert torch.equal(x, original)
    assert out.data_ptr() != x.data_ptr()
    assert (out[sample_mask] == 0.0).all()
    assert torch.equal(out[~sample_mask], x[~sample_mask])
    assert torch.equal(out == 0.0, sample_mask)


def test_apply_mask_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="shape"):
        apply_mask(torch.randn(2, 1, 64), torch.zeros(2, 1, 32, dtype=torch.bool))
