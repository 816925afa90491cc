"""LoRA adapters on the TTM backbone through peft (spec 000's FT mode, spec 003).

:func:`apply_lora` wraps ``model.encoder.backbone`` with ``peft.get_peft_model`` so that only
the LoRA adapters and the head train. The defaults (r=2 on ``fc1`` only) are chosen for the
tiny TTM: on the default encoder (d_model 64, 4 layers) they add 2.1 % of the backbone's
parameters, inside the "<= 5 %" goal, where r=8 on ``fc1`` + ``fc2`` would add 16.4 %.

Target names are the backbone's Linear leaves (``fc1``, ``fc2``, ``attn_layer``, ``patcher``,
or a dotted suffix such as ``feature_mixer.mlp.fc1``); a name that matches no Linear is
refused with :class:`ConfigError` instead of being silently skipped (design contract 7).
:func:`merge_lora` folds the adapters back into plain weights for export. peft is imported
when adapters are applied or merged: importing it costs ~1.5 s that runs without LoRA skip.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ttmbio.errors import ConfigError
from ttmbio.model.heads import EncoderClassifier

_LORA_MARK = "lora_"


@dataclass(frozen=True)
class LoraSettings:
    """Rank, scale (``alpha / r``), dropout and target Linear names of the adapters."""

    r: int = 2
    alpha: int = 4
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("fc1",)

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ConfigError(f"finetune.lora.r={self.r} must be >= 1")
        if self.alpha <= 0:
            raise ConfigError(f"finetune.lora.alpha={self.alpha} must be > 0")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"finetune.lora.dropout={self.dropout} must be in [0, 1)")
        if not self.target_modules:
            raise ConfigError("finetune.lora.target_modules is empty; name at least one Linear")


def _linear_names(module: nn.Module) -> list[str]:
    return [name for name, m in module.named_modules() if isinstance(m, nn.Linear)]


def _matches(name: str, target: str) -> bool:
    # peft's rule for a list of names: the module's full name equals the key or ends in ".key"
    return name == target or name.endswith("." + target)


def apply_lora(model: EncoderClassifier, settings: LoraSettings) -> EncoderClassifier:
    """Add LoRA adapters to the encoder's backbone; only adapters and head stay trainable.

    Returns ``model`` itself, with ``model.encoder.backbone`` replaced by a ``PeftModel``
    (the encoder's forward and ``blocks`` work unchanged through it).
    """
    from peft import LoraConfig, PeftModel, get_peft_model

    backbone = model.encoder.backbone
    if isinstance(backbone, PeftModel):
        raise ValueError("the encoder's backbone already has LoRA adapters; apply_lora once")
    linears = _linear_names(backbone)
    unmatched = [t for t in settings.target_modules if not any(_matches(n, t) for n in linears)]
    if unmatched:
        leaves = sorted({n.rsplit(".", 1)[-1] for n in linears})
        raise ConfigError(
            f"finetune.lora.target_modules={list(settings.target_modules)}: {unmatched} "
            f"match no Linear layer of the TTM backbone; available Linear leaf names: {leaves}"
        )
    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules),
        bias="none",
    )
    # get_peft_model freezes every non-adapter weight of the backbone; the head is untouched
    model.encoder.backbone = get_peft_model(backbone, config)
    model.head.requires_grad_(True)
    return model


def merge_lora(model: EncoderClassifier) -> EncoderClassifier:
    """Fold the adapters into the backbone's weights and drop peft (same outputs, plain keys)."""
    from peft import PeftModel

    backbone = model.encoder.backbone
    if not isinstance(backbone, PeftModel):
        raise ValueError("the encoder's backbone has no LoRA adapters to merge")
    model.encoder.backbone = backbone.merge_and_unload()
    return model


def lora_fraction(model: EncoderClassifier) -> float:
    """Trainable LoRA adapter parameters / the backbone's base (non-adapter) parameters."""
    adapters = base = 0
    for name, p in model.encoder.backbone.named_parameters():
        if _LORA_MARK in name:
            adapters += p.numel() if p.requires_grad else 0
        else:
            base += p.numel()
    return adapters / base
