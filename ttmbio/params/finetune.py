"""The finetune section and the task registry (TASKS): what each task reads and predicts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    model_validator,
)

from ttmbio.params.common import Section

# --------------------------------------------------------------------------- finetune


class TaskSpec(Section):
    """A downstream task: which windows, which channels, which per-window target."""

    dataset: str  # a data section (params.data.<dataset>), read through ttmbio.sources
    channels: list[str]
    target: str
    kind: Literal["binary", "regression"]


TASKS: dict[str, TaskSpec] = {
    "butppg_quality": TaskSpec(
        dataset="butppg",
        channels=["ACC_X", "ACC_Y", "ACC_Z", "PPG", "ECG"],
        target="case_quality",
        kind="binary",
    ),
    "vitaldb_hypotension": TaskSpec(
        dataset="vitaldb", channels=["PPG", "ECG"], target="hypotension", kind="binary"
    ),
    # a hypotensive event (MAP < 65 mmHg for >= 60 s) starts within windows.forecast_horizon_min
    "vitaldb_hypotension_forecast": TaskSpec(
        dataset="vitaldb", channels=["PPG", "ECG"], target="hypotension_forecast", kind="binary"
    ),
    "vitaldb_map": TaskSpec(
        dataset="vitaldb", channels=["PPG", "ECG"], target="map_mmhg", kind="regression"
    ),
    "vitaldb_hr": TaskSpec(
        dataset="vitaldb", channels=["PPG", "ECG"], target="hr_bpm", kind="regression"
    ),
    # heart rate from the finger PPG alone, labelled from the ECG (add bidmc to data.datasets)
    "bidmc_hr": TaskSpec(dataset="bidmc", channels=["PPG"], target="hr_bpm", kind="regression"),
}


def binary_tasks() -> list[str]:
    """Names of the classification tasks, for messages that list what would work."""
    return sorted(name for name, spec in TASKS.items() if spec.kind == "binary")


class HeadParams(Section):
    pooling: Literal["mean_concat", "mean_mean"] = "mean_concat"
    hidden_dims: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [64])
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.1
    activation: Literal["gelu", "relu"] = "gelu"
    norm: Literal["none", "batch"] = "none"


class LoraParams(Section):
    enabled: bool = False
    r: Annotated[int, Field(ge=1)] = 2
    alpha: Annotated[int, Field(ge=1)] = 4
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    target_modules: list[str] = Field(default_factory=lambda: ["fc1"])


class FinetuneParams(Section):
    """Downstream training (spec 003 staged schedule; spec 000 FM/FT modes and LoRA)."""

    task: str = "butppg_quality"
    init: Literal["pretrained", "scratch"] = "pretrained"
    mode: Literal["fm", "ft"] = "ft"
    label_fraction: Annotated[float, Field(gt=0, le=1)] = 1.0
    seed: int = 42
    # the DVC matrix: every init x fraction x seed is one run, <init>-<fraction>-seed<seed>
    fractions: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=lambda: [0.1, 1.0], min_length=1
    )
    seeds: list[int] = Field(default_factory=lambda: [42], min_length=1)
    batch_size: Annotated[int, Field(ge=1)] = 32
    lr: Annotated[float, Field(gt=0)] = 1e-3
    weight_decay: Annotated[float, Field(ge=0)] = 0.01
    head_epochs: Annotated[int, Field(ge=1)] = 4
    unfreeze_epochs: Annotated[int, Field(ge=0)] = 8
    unfreeze_last_n: Annotated[int, Field(ge=1)] = 2
    full_epochs: Annotated[int, Field(ge=0)] = 0
    patience: Annotated[int, Field(ge=1)] = 5
    # no early stop before this many epochs: every init gets at least the same budget
    min_epochs: Annotated[int, Field(ge=0)] = 8
    grad_clip: Annotated[float, Field(gt=0)] = 1.0
    amp: Literal["auto", "off"] = "auto"  # bf16 autocast on CUDA; CPU stays float32
    class_balance: Literal["weights", "none"] = "weights"
    inflation_noise: Annotated[float, Field(ge=0)] = 0.01
    head: HeadParams = HeadParams()
    lora: LoraParams = LoraParams()

    @property
    def spec(self) -> TaskSpec:
        return TASKS[self.task]

    @model_validator(mode="after")
    def _task(self) -> FinetuneParams:
        if self.task not in TASKS:
            raise ValueError(f"task={self.task!r} is not one of {sorted(TASKS)}")
        for name in ("seeds", "fractions"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name}={values} repeats a value; list each once")
        if self.lora.enabled and self.mode == "fm":
            raise ValueError(
                "lora.enabled=true trains adapters inside the encoder, which mode=fm keeps "
                "frozen; set mode=ft (or lora.enabled=false)"
            )
        return self
