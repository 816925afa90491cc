"""The dropout bench figure: both paths measured, on encoders that differ only in dropout."""

from __future__ import annotations

import torch
from torch import nn

from ttmbio.bench.dropout import dropout_rates, with_torch_dropout
from ttmbio.dropout import FastDropout
from ttmbio.model.encoder import TTMEncoder
from ttmbio.params import ModelParams

TINY = ModelParams(d_model=8, num_layers=1, dropout=0.1)


def test_the_torch_copy_differs_only_in_its_dropout_layers() -> None:
    fast = TTMEncoder(TINY)
    plain = with_torch_dropout(fast)
    assert {type(m) for m in plain.modules()} - {type(m) for m in fast.modules()} == {nn.Dropout}
    assert not any(isinstance(m, FastDropout) for m in plain.modules())
    x = torch.randn(2, 2, TINY.context_length)
    assert torch.equal(fast.eval()(x), plain.eval()(x))  # same weights


def test_both_rates_are_measured() -> None:
    report = dropout_rates(TINY, repeats=1, steps=1, batch_size=4)
    assert report["fast_dropout_windows_per_s"] > 0 and report["torch_dropout_windows_per_s"] > 0
    assert report["fast_vs_torch"] > 0 and report["dropout"] == 0.1
