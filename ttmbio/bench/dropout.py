"""Training-step throughput of the TTM encoder with torch's dropout and with FastDropout.

Two encoders with the same weights train on the same random batches, one with
``nn.Dropout`` (a Mersenne-Twister float per element on the CPU), one with
:class:`ttmbio.dropout.FastDropout`; steps alternate between them round by round, so a busy
neighbour slows both alike, and the ratio is the median of the per-round ratios.
"""

from __future__ import annotations

import copy
import statistics
import time
from typing import Any

import torch
from torch import nn

from ttmbio.dropout import FastDropout, swap_dropout
from ttmbio.model.encoder import TTMEncoder
from ttmbio.params import ModelParams


def with_torch_dropout(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose FastDropout layers are torch's ``nn.Dropout`` again."""
    return swap_dropout(copy.deepcopy(module), FastDropout, nn.Dropout)


def _step_rate(encoder: nn.Module, x: torch.Tensor, steps: int) -> float:
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=1e-4)
    start = time.perf_counter()
    for _ in range(steps):
        loss = encoder(x).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps * len(x) / (time.perf_counter() - start)


def dropout_rates(
    cfg: ModelParams, repeats: int, steps: int = 10, batch_size: int = 64
) -> dict[str, Any]:
    """Windows/s of encoder training steps (``cfg``'s dropout) with each dropout, and ratio."""
    torch.manual_seed(0)
    fast = TTMEncoder(cfg).train()
    plain = with_torch_dropout(fast).train()
    x = torch.randn(batch_size, len(cfg.channels), cfg.context_length)
    fast_rates, torch_rates = [], []
    for r in range(repeats + 1):  # round 0 warms up
        torch_rate = _step_rate(plain, x, steps)
        fast_rate = _step_rate(fast, x, steps)
        if r:
            torch_rates.append(torch_rate)
            fast_rates.append(fast_rate)
    return {
        "dropout": cfg.dropout,
        "batch_size": batch_size,
        "torch_dropout_windows_per_s": statistics.median(torch_rates),
        "fast_dropout_windows_per_s": statistics.median(fast_rates),
        "fast_vs_torch": statistics.median(
            f / t for f, t in zip(fast_rates, torch_rates, strict=True)
        ),
        "repeats": repeats,
    }
