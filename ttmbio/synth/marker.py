"""The file ``ttmbio synth`` leaves in each dataset folder it makes, so that anything trained
on it later (a model card, say) can tell synthetic data from patients' without guessing."""

from __future__ import annotations

from pathlib import Path

SYNTHETIC_MARKER = "SYNTHETIC.md"


def mark_synthetic(folder: Path, seed: int) -> None:
    """Write the marker into ``folder`` (a dataset folder ``synth`` just made)."""
    (Path(folder) / SYNTHETIC_MARKER).write_text(
        "# Synthetic data\n\n"
        f"Made by `ttmbio synth` (synth.seed {seed}): simulated recordings in the real "
        "file format, not patient data. Models trained on it say how the pipeline works, not "
        "how a model does on patients.\n"
    )


def is_synthetic(folder: Path) -> bool:
    """Whether ``folder`` was made by ``ttmbio synth``."""
    return (Path(folder) / SYNTHETIC_MARKER).is_file()
