"""Patch masks for masked signal modeling, and applying them in the normalised space.

Why whole patches: TTM embeds each ``patch_length`` run of samples as one token, so hiding part
of a patch would let the encoder see the rest of it and copy; hiding whole patches makes the
decoder infer the hidden content from *other* tokens. Masked samples become 0.0, the per-channel
mean of a z-scored window, so the encoder input stays in range and carries no trace of what was
hidden (DESIGN contract 4: masking happens in the model's normalised space).

Every random choice comes from an explicit ``torch.Generator``, so a seed from params reproduces
the exact masks (DESIGN contract 6); mask shapes come from the caller's validated config and are
never read off a tensor.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch

MaskKind = Literal["random", "block"]


def masked_patch_count(n_patches: int, ratio: float) -> int:
    """Number of patches masked per row: ``round(ratio * n_patches)`` clamped to ``[1, P - 1]``.

    At least one patch when ``ratio > 0`` so the reconstruction loss always has a target, at most
    ``P - 1`` so the encoder always sees something. Python's ``round`` (half to even) is used.
    Raises ValueError when ``ratio`` is outside ``[0, 1)`` or no valid count exists.
    """
    if int(n_patches) != n_patches or n_patches < 1:
        raise ValueError(f"n_patches={n_patches} must be an integer >= 1")
    if not (0.0 <= ratio < 1.0):
        raise ValueError(f"mask ratio={ratio} must lie in [0, 1): something must stay visible")
    if ratio == 0.0:
        return 0
    if n_patches < 2:
        raise ValueError(
            f"mask ratio={ratio} > 0 needs n_patches >= 2 (one masked, one visible), "
            f"got n_patches={n_patches}; lower patch_length or use a longer context"
        )
    return min(max(round(ratio * n_patches), 1), n_patches - 1)


def _random_rows(rows: int, n_patches: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """``[rows, P]`` bool with exactly ``k`` uniformly chosen True per row (rank of iid noise)."""
    noise = torch.rand(rows, n_patches, generator=generator, device=generator.device)
    rank = noise.argsort(dim=1).argsort(dim=1)
    return rank < k


def _block_rows(
    rows: int, n_patches: int, k: int, block: int, generator: torch.Generator
) -> torch.Tensor:
    """``[rows, P]`` bool with ``k`` True laid out as non-overlapping runs of ``block`` patches.

    Stars and bars: a row is a sequence of ``n_runs`` run items and ``P - k`` single visible
    items; choosing uniformly which item slots are runs places the runs uniformly without
    overlap (adjacent runs may touch). When ``k % block`` leaves a shorter run, which of the runs
    is the short one is also random, so short runs are not biased towards the end. Vectorised:
    a patch's covering item is found with ``searchsorted`` on the items' cumulative ends.
    """
    device = generator.device
    n_runs = -(-k // block)
    rem = k % block
    n_items = n_runs + (n_patches - k)
    is_run = _random_rows(rows, n_items, n_runs, generator)
    lengths = torch.where(is_run, block, 1)
    if rem:
        run_order = is_run.long().cumsum(dim=1) - 1
        short = torch.randint(0, n_runs, (rows, 1), generator=generator, device=device)
        lengths = torch.where(is_run & (run_order == short), rem, lengths)
    ends = lengths.cumsum(dim=1)  # strictly increasing, last == n_patches
    patches = torch.arange(n_patches, device=device).expand(rows, n_patches).contiguous()
    item_of_patch = torch.searchsorted(ends, patches, right=True)
    return is_run.gather(1, item_of_patch)


def patch_mask(
    batch: int,
    channels: int,
    n_patches: int,
    ratio: float,
    kind: MaskKind,
    generator: torch.Generator,
    block_patches: int = 3,
    shared_across_channels: bool = True,
) -> torch.Tensor:
    """Bool ``[batch, channels, n_patches]`` mask, True = patch hidden from the encoder.

    Every ``(b, c)`` row masks exactly ``masked_patch_count(n_patches, ratio)`` patches so the
    loss weight per window does not depend on luck. ``"random"`` picks patches uniformly;
    ``"block"`` hides contiguous runs of ``block_patches`` (one run may be shorter), which forces
    the model to bridge longer gaps than a single beat. With ``shared_across_channels`` the same
    patches are hidden in every channel of a sample, so one channel cannot simply be copied from
    another at the same time (e.g. ECG R peaks giving away PPG timing). The mask lives on
    ``generator.device`` and depends only on the generator's state.
    """
    for name, value in (("batch", batch), ("channels", channels)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name}={value} must be an integer >= 1")
    if kind not in get_args(MaskKind):
        raise ValueError(f"mask kind={kind!r} must be one of {get_args(MaskKind)}")
    if int(block_patches) != block_patches or block_patches < 1:
        raise ValueError(f"block_patches={block_patches} must be an integer >= 1")
    k = masked_patch_count(n_patches, ratio)
    rows = batch if shared_across_channels else batch * channels
    if k == 0:
        rows_mask = torch.zeros(rows, n_patches, dtype=torch.bool, device=generator.device)
    elif kind == "random":
        rows_mask = _random_rows(rows, n_patches, k, generator)
    else:
        rows_mask = _block_rows(rows, n_patches, k, block_patches, generator)
    if shared_across_channels:
        return rows_mask.unsqueeze(1).expand(batch, channels, n_patches).contiguous()
    return rows_mask.reshape(batch, channels, n_patches)


def expand_to_samples(mask: torch.Tensor, patch_length: int) -> torch.Tensor:
    """``[B, C, P]`` patch mask -> ``[B, C, P * patch_length]``: sample t follows patch t // L.

    Losses and ``apply_mask`` work per sample; this keeps patch and sample masks aligned by
    construction instead of re-deriving patch boundaries elsewhere.
    """
    if mask.ndim != 3 or mask.dtype != torch.bool:
        raise ValueError(f"mask must be bool [B, C, P], got {mask.dtype} {tuple(mask.shape)}")
    if int(patch_length) != patch_length or patch_length < 1:
        raise ValueError(f"patch_length={patch_length} must be an integer >= 1")
    return mask.repeat_interleave(int(patch_length), dim=-1)


def apply_mask(x: torch.Tensor, sample_mask: torch.Tensor) -> torch.Tensor:
    """New tensor equal to ``x`` with masked samples set to 0.0; ``x`` itself is never modified.

    0.0 is each channel's mean after z-scoring, so the hidden content leaves no trace in the
    encoder input, and the untouched ``x`` remains the loss target.
    """
    if sample_mask.dtype != torch.bool:
        raise ValueError(f"sample_mask must be bool, got {sample_mask.dtype}")
    if sample_mask.shape != x.shape:
        raise ValueError(
            f"sample_mask shape {tuple(sample_mask.shape)} must equal x shape {tuple(x.shape)}"
        )
    return x.masked_fill(sample_mask, 0.0)
