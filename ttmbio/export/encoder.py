"""The pretrained encoder as a Hugging Face model folder.

``save_pretrained`` of its granite-tsfm ``TinyTimeMixerModel`` backbone: ``config.json`` and
``model.safetensors``, so ``TinyTimeMixerModel.from_pretrained(folder)`` loads it in any
project. ttmbio's own settings (channels, model params) ride in ``config.json`` under the key
``ttmbio``, and the optional scale embedding, which is not part of TTM, in its own
safetensors file (:mod:`ttmbio.model.hf_encoder` reads it all back). ``ttmbio finetune
--pretrained <folder>`` and ``model.pretrained=<folder>`` both accept the folder.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import ModelCardData
from pydantic import BaseModel, ConfigDict
from safetensors.torch import save_file

from ttmbio.atomic import atomic_dir, atomic_write_text
from ttmbio.export.card import TAGS, limitations, readable_by_all, render_card, training_data
from ttmbio.model.hf_encoder import SCALE_FILE, EncoderInfo, load_pretrained_folder
from ttmbio.ssl.summary import read_pretrain_summary


class EncoderExport(BaseModel):
    """What ``ttmbio export encoder`` wrote."""

    model_config = ConfigDict(frozen=True)

    out: Path
    channels: list[str]
    parameters: int

    def line(self) -> str:
        return (
            f"export encoder: TinyTimeMixerModel ({self.parameters:,} parameters, channels "
            f"{self.channels}) -> {self.out}"
        )


def export_encoder(pretrained: Path, out: Path, split_file: Path | None = None) -> EncoderExport:
    """Write the best pretrained encoder of ``pretrained`` (``ttmbio pretrain``'s folder) to
    the Hugging Face folder ``out``, whole or not at all, with its model card."""
    encoder, meta = load_pretrained_folder(pretrained)
    summary = read_pretrain_summary(pretrained)
    backbone = encoder.backbone
    info = EncoderInfo(channels=meta.channels, model=meta.config.model)
    backbone.config.ttmbio = info.model_dump(mode="json")
    parameters = sum(p.numel() for p in encoder.parameters())
    with atomic_dir(out) as tmp:
        backbone.save_pretrained(tmp, safe_serialization=True)
        if encoder.scale_embedding is not None:
            save_file(encoder.scale_embedding.state_dict(), str(tmp / SCALE_FILE))
        data = training_data(split_file, ["vitaldb"]) if split_file is not None else None
        card = ModelCardData(
            library_name="ttmbio", license="apache-2.0", tags=[*TAGS, "self-supervised"]
        )
        sections = {
            "Model": [
                f"A granite-tsfm TinyTimeMixer backbone (d_model {meta.config.model.d_model}, "
                f"{meta.config.model.num_layers} layers, context {meta.config.model.context_length}"
                f" samples, patches of {meta.config.model.patch_length}; {parameters:,} "
                f"parameters) pretrained by masked signal modeling on channels "
                f"{', '.join(meta.channels)}.",
                "",
                "```python",
                "from tsfm_public.models.tinytimemixer.modeling_tinytimemixer import "
                "TinyTimeMixerModel",
                "backbone = TinyTimeMixerModel.from_pretrained('<this folder>')",
                "latents = backbone(past_values=x).last_hidden_state  # x: [B, T, C] z-scored",
                "```",
                "",
                "With ttmbio: `ttmbio finetune --pretrained <this folder>`.",
            ],
            "Training data": data.lines() if data is not None else ["not recorded"],
            "Pretraining result": [
                f"Best epoch {summary.best_epoch} of {summary.epochs}: val masked NMSE "
                f"{summary.val_nmse:.3f} against {summary.val_nmse_interp:.3f} for linear "
                f"interpolation over the same masks ({summary.nmse_ratio_to_interp:.2f}x), on "
                f"{summary.val_windows} val windows ({summary.train_windows} train).",
            ],
            "Intended use": [
                "An encoder to fine-tune on biosignal windows of the same channels, sampling "
                "rate and length (with `ttmbio finetune`); not a diagnostic device.",
            ],
            "Limitations": limitations(
                data,
                "Trained",
                ["- Windows must be z-scored with the training statistics of each channel."],
            ),
        }
        atomic_write_text(
            tmp / "README.md", render_card(card, "ttmbio pretrained encoder", sections)
        )
        readable_by_all(tmp)
    return EncoderExport(out=out, channels=meta.channels, parameters=parameters)
