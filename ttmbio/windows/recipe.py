"""The preprocessing a model was trained with, saved inside its checkpoint.

``ttmbio predict`` must window a new recording exactly as the training windows were made --
same rate, filters, gates, inversions and train-split normalisation -- without the user
re-typing params that may since have changed. The fine-tuning stage therefore stores a
:class:`WindowRecipe` next to the weights, and prediction rebuilds its windowing from it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from ttmbio.params import GATE_CHANNELS, DatasetWindows, Params, WindowsParams
from ttmbio.windows.stats import ChannelStats


class WindowRecipe(BaseModel):
    """Everything needed to turn a raw recording into the model's normalised windows."""

    model_config = ConfigDict(extra="forbid")

    dataset: str  # a windows section: windows.<dataset> made these windows
    windows: WindowsParams
    # per dataset whose files name their signals (data.<dataset>.tracks): channel -> track
    # names that may carry it, so predict reads new files by the names training used
    tracks: dict[str, dict[str, list[str]]]
    stats: dict[str, ChannelStats]  # train-split mean/std per channel

    @field_validator("tracks", mode="before")
    @classmethod
    def _vitaldb_only(cls, value: Any) -> Any:
        """Models saved before other datasets had track maps stored VitalDB's alone."""
        if isinstance(value, dict) and any(isinstance(v, list) for v in value.values()):
            return {"vitaldb": value}
        return value

    @model_validator(mode="after")
    def _known_dataset(self) -> WindowRecipe:
        if self.dataset not in self.windows.datasets():
            raise ValueError(
                f"dataset {self.dataset!r} has no windows section (known: "
                f"{self.windows.datasets()})"
            )
        return self

    @property
    def dataset_windows(self) -> DatasetWindows:
        return self.windows.dataset(self.dataset)

    def for_channels(self, channels: list[str]) -> tuple[DatasetWindows, WindowsParams, list[str]]:
        """Windowing over ``channels`` only: the trained settings minus the gates whose
        channel is absent (returned by name, so the output can say they were not applied).

        Gates that need no particular channel (gap, flatline, clipping) always stay. The
        label horizon is dropped: prediction needs no future ABP, so windows run to the
        end of the recording.
        """
        trained = self.dataset_windows
        ordered = [c for c in trained.channels if c in channels]
        ordered += [c for c in channels if c not in ordered]
        dropped = [g for g in trained.gates if GATE_CHANNELS.get(g, ordered[0]) not in ordered]
        cfg = trained.model_copy(
            update={
                "channels": ordered,
                "gates": [g for g in trained.gates if g not in dropped],
                "invert": [c for c in trained.invert if c in ordered],
            }
        )
        params = self.windows.model_copy(update={"label_horizon_s": 0.0})
        return DatasetWindows.model_validate(cfg.model_dump()), params, dropped


def recipe_of(params: Params, dataset: str, stats: dict[str, dict[str, float]]) -> WindowRecipe:
    """The recipe of windows made by ``params`` for ``dataset`` with train ``stats``."""
    return WindowRecipe(
        dataset=dataset,  # type: ignore[arg-type]
        windows=params.windows,
        tracks=params.data.track_maps(),
        stats={c: ChannelStats(**s) for c, s in stats.items()},
    )
