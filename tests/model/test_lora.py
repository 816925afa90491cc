from __future__ import annotations

import pytest
import torch
from peft import PeftModel

from ttmbio.errors import ConfigError
from ttmbio.model.encoder import TTMEncoder
from ttmbio.model.heads import ClassifierHead, EncoderClassifier
from ttmbio.model.lora import LoraSettings, apply_lora, lora_fraction, merge_lora
from ttmbio.params import ModelParams

SMALL = ModelParams(d_model=16, num_layers=2, dropout=0.0)


def make_model(cfg: ModelParams = SMALL) -> EncoderClassifier:
    torch.manual_seed(0)
    head = ClassifierHead(len(cfg.channels), cfg.d_model, 2, hidden_dims=(8,))
    return EncoderClassifier(TTMEncoder(cfg), head)


def randomise_adapters(model: EncoderClassifier) -> None:
    """peft starts lora_B at zero (a no-op); give adapters weight so the tests mean something."""
    with torch.no_grad():
        for name, p in model.encoder.backbone.named_parameters():
            if "lora_" in name:
                p.normal_(0, 0.1)


def test_defaults_stay_within_five_percent_of_the_default_backbone() -> None:
    model = apply_lora(make_model(ModelParams()), LoraSettings())
    assert lora_fraction(model) <= 0.05
    assert lora_fraction(model) == pytest.approx(0.0205, abs=1e-3)  # r=2 on fc1: 1920 / 93504
    big = apply_lora(
        make_model(ModelParams()), LoraSettings(r=8, alpha=16, target_modules=("fc1", "fc2"))
    )
    assert lora_fraction(big) == pytest.approx(0.164, abs=1e-3)  # why the defaults are small


def test_only_adapters_and_head_train() -> None:
    model = make_model()
    same = apply_lora(model, LoraSettings())
    assert same is model
    assert isinstance(model.encoder.backbone, PeftModel)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    backbone = {n for n in trainable if n.startswith("encoder.")}
    assert backbone and all("lora_" in n for n in backbone)
    assert all(".fc1." in n for n in backbone)
    assert {n for n in trainable if n.startswith("head.")} == {
        f"head.{n}" for n, _ in model.head.named_parameters()
    }
    assert trainable == backbone | {f"head.{n}" for n, _ in model.head.named_parameters()}
    assert len(model.encoder.blocks) == SMALL.num_layers  # still reachable through peft
    assert model(torch.randn(3, 2, 1024)).shape == (3, 2)


def test_merged_and_unmerged_outputs_match() -> None:
    model = apply_lora(make_model(), LoraSettings(r=4, alpha=8, target_modules=("fc1", "fc2")))
    randomise_adapters(model)
    model.eval()
    x = torch.randn(3, 2, 1024)
    with torch.no_grad():
        unmerged = model(x)
        merge_lora(model)
        merged = model(x)
    assert not isinstance(model.encoder.backbone, PeftModel)
    assert not any("lora_" in n for n, _ in model.named_parameters())
    torch.testing.assert_close(merged, unmerged, atol=1e-5, rtol=0)


def test_adapters_change_the_output() -> None:
    model = make_model().eval()
    x = torch.randn(2, 2, 1024)
    with torch.no_grad():
        before = model(x)
        apply_lora(model, LoraSettings())
        torch.testing.assert_close(model(x), before)  # lora_B starts at zero: same function
        randomise_adapters(model)
        assert not torch.allclose(model(x), before)


def test_two_optimiser_steps_change_only_adapters_and_head() -> None:
    model = apply_lora(make_model(), LoraSettings())
    randomise_adapters(model)  # with lora_B = 0, lora_A would get no gradient on step 1
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x, y = torch.randn(4, 2, 1024), torch.tensor([0, 1, 0, 1])
    for _ in range(2):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    base = {n for n in before if n.startswith("encoder.") and "lora_" not in n}
    assert base and not changed & base  # backbone base weights untouched
    assert any("lora_A" in n for n in changed) and any("lora_B" in n for n in changed)
    assert any(n.startswith("head.") for n in changed)


def test_target_that_matches_nothing_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"\['q_proj'\].*fc1.*fc2.*patcher"):
        apply_lora(make_model(), LoraSettings(target_modules=("q_proj",)))
    with pytest.raises(ConfigError, match=r"\['v_proj'\]"):
        apply_lora(make_model(), LoraSettings(target_modules=("fc1", "v_proj")))


def test_dotted_targets_and_other_leaves() -> None:
    model = apply_lora(make_model(), LoraSettings(target_modules=("feature_mixer.mlp.fc1",)))
    lora = [n for n, p in model.named_parameters() if p.requires_grad and "lora_" in n]
    assert lora and all("feature_mixer.mlp.fc1" in n for n in lora)
    attn = apply_lora(make_model(), LoraSettings(target_modules=("attn_layer", "patcher")))
    assert lora_fraction(attn) > 0


def test_apply_twice_or_merge_without_adapters_is_refused() -> None:
    model = apply_lora(make_model(), LoraSettings())
    with pytest.raises(ValueError, match="already"):
        apply_lora(model, LoraSettings())
    with pytest.raises(ValueError, match="no LoRA"):
        merge_lora(make_model())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"r": 0}, "lora.r"),
        ({"alpha": 0}, "lora.alpha"),
        ({"dropout": 1.0}, "lora.dropout"),
        ({"target_modules": ()}, "target_modules"),
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        LoraSettings(**kwargs)  # type: ignore[arg-type]
