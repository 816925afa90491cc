"""Staged unfreezing of an :class:`EncoderClassifier` (spec 003).

FM mode trains the head on a frozen encoder (stage ``"head"``). FT mode then unfreezes the
last N mixer blocks (``"last_n"``) and, optionally, everything (``"all"``, trained at lr/10 by
the caller). Each call sets ``requires_grad`` on every parameter from scratch, so stages can be
applied in any order and the result depends only on the last call. Parameters outside the
blocks (patching/embedding, any norm between blocks and head) stay frozen until ``"all"``.

``set_stage`` acts on all parameters, LoRA adapters included: after :func:`apply_lora`, use
the adapters' own trainability instead of calling ``set_stage`` (``"head"`` would freeze them).
Train/eval mode (dropout) is left to the caller.
"""

from __future__ import annotations

from typing import Literal, get_args

from torch import nn

from ttmbio.errors import ConfigError
from ttmbio.model.heads import EncoderClassifier

Stage = Literal["head", "last_n", "all"]


def _blocks(model: EncoderClassifier) -> nn.ModuleList:
    return model.encoder.blocks  # type: ignore[no-any-return]


def set_stage(model: EncoderClassifier, stage: Stage, last_n: int = 0) -> None:
    """Make exactly the parameters of ``stage`` trainable and freeze all others.

    ``"head"``: head only; ``"last_n"``: the last ``last_n`` encoder blocks plus the head;
    ``"all"``: every parameter. ``last_n`` is only read for ``"last_n"`` and must be in
    ``1..len(blocks)``.
    """
    if stage not in get_args(Stage):
        raise ValueError(f"stage must be one of {list(get_args(Stage))}, got {stage!r}")
    blocks = _blocks(model)
    if stage == "last_n" and not 1 <= last_n <= len(blocks):
        raise ConfigError(
            f"finetune.unfreeze_last_n={last_n} must be between 1 and {len(blocks)}: the "
            f"encoder has {len(blocks)} blocks (model.num_layers); use stage 'all' to train "
            "everything"
        )
    model.requires_grad_(stage == "all")
    if stage == "last_n":
        for block in blocks[len(blocks) - last_n :]:
            block.requires_grad_(True)
    model.head.requires_grad_(True)


def trainable_count(model: nn.Module) -> int:
    """Number of trainable scalars; a parameter shared by two modules counts once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def block_parameter_counts(model: EncoderClassifier) -> list[int]:
    """Parameter count of each encoder block, first to last (for logs and for stage checks)."""
    return [sum(p.numel() for p in block.parameters()) for block in _blocks(model)]
