"""The one epoch loop on a toy run: phases, early stopping, checkpoints, byte-identical resume."""

from __future__ import annotations

import contextlib
import hashlib
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from ttmbio.atomic import atomic_write_json
from ttmbio.training import engine
from ttmbio.training.checkpoint import load_checkpoint, save_checkpoint
from ttmbio.training.distributed import DistInfo
from ttmbio.training.engine import LoopSettings, Phase, Progress

X = torch.linspace(-1, 1, 64).unsqueeze(1)
Y = 3 * X + 0.5


class Killed(Exception):
    pass


@dataclass
class ToyRun:
    """Linear regression in two phases (bias only, then everything)."""

    kill_at: int | None = None
    flat_after: int | None = None  # val stops improving after this epoch
    fingerprint: str = "toy"
    model: nn.Module = field(default_factory=lambda: nn.Linear(1, 1))
    dist: DistInfo = field(default_factory=lambda: DistInfo(0, 1, torch.device("cpu")))
    entered: list[str] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)  # the work folder's, at the end
    best_epoch: int | None = None  # of the work folder's best.pt, when there is one

    def __post_init__(self) -> None:
        torch.manual_seed(0)
        self.model.reset_parameters()

    def phases(self) -> list[Phase]:
        def enter(name: str, lr: float):
            def start() -> torch.optim.Optimizer:
                self.entered.append(name)
                self.model.weight.requires_grad_(name == "all")
                params = [p for p in self.model.parameters() if p.requires_grad]
                return torch.optim.Adam(params, lr=lr)

            return start

        return [Phase("bias", 2, enter("bias", 0.1)), Phase("all", 4, enter("all", 0.05))]

    def train_epoch(self, epoch: int, optimizer: torch.optim.Optimizer) -> dict[str, float]:
        if epoch == self.kill_at:
            raise Killed
        torch.manual_seed(epoch)
        noise = 0.01 * torch.randn_like(Y)
        loss = nn.functional.mse_loss(self.model(X), Y + noise)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"train_loss": loss.item()}

    def evaluate(self, epoch: int, phase: int) -> dict[str, float]:
        with torch.no_grad():
            val = nn.functional.mse_loss(self.model(X), Y).item()
        if self.flat_after is not None and epoch >= self.flat_after:
            val = 10.0
        return {"val_loss": val, "phase": float(phase), "epoch": float(epoch + 1)}

    def monitor(self, row: dict[str, float]) -> float:
        return -row["val_loss"]

    def payload(self, progress: Progress, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "best_model": progress.best_state,
            "optimizer": optimizer.state_dict(),
            "epoch": progress.epoch - 1,
            "best": progress.best,
            "bad_epochs": progress.bad_epochs,
            "history": progress.history,
            "fingerprint": self.fingerprint,
        }

    def restore(self, ckpt: dict[str, Any]) -> Progress:
        self.model.load_state_dict(ckpt["model"])
        return Progress(
            ckpt["epoch"] + 1,
            list(ckpt["history"]),
            ckpt["best"],
            ckpt["bad_epochs"],
            ckpt["best_model"],
        )

    def finish(self, progress, optimizer, work: Path, out: Path) -> dict[str, Any]:
        best = progress.best_state or load_checkpoint(work / "best.pt")["model"]  # on disk
        self.model.load_state_dict(best)
        self.checkpoints = sorted(p.name for p in work.glob("*.pt"))
        if (work / "best.pt").is_file():
            self.best_epoch = load_checkpoint(work / "best.pt")["epoch"] + 1
        save_checkpoint(out / "best.pt", {"model": best})
        save_checkpoint(out / "last.pt", self.payload(progress, optimizer))
        summary = {"epochs_run": len(progress.history), "entered": self.entered}
        atomic_write_json(out / "summary.json", summary)
        return summary


SETTINGS = LoopSettings(best_in_memory=True)


def hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_a_resumed_run_writes_the_same_bytes_as_an_uninterrupted_one(tmp_path: Path) -> None:
    engine.train(ToyRun(), SETTINGS, tmp_path / "w1", tmp_path / "straight")
    for kill_at in (1, 3):  # in the first phase, and in the second
        with pytest.raises(Killed):
            engine.train(ToyRun(kill_at=kill_at), SETTINGS, tmp_path / "w2", tmp_path / "out")
        assert not (tmp_path / "out").exists()  # nothing half-written
        last = load_checkpoint(tmp_path / "w2/toy/last.pt")
        assert last["epoch"] == kill_at - 1
    summary = engine.train(ToyRun(), SETTINGS, tmp_path / "w2", tmp_path / "out")
    assert hashes(tmp_path / "out") == hashes(tmp_path / "straight")
    assert summary["epochs_run"] == 6 and summary["entered"] == ["bias", "all"]
    assert not (tmp_path / "w2/toy").exists()  # resume state is for interrupted runs only


def test_a_checkpoint_of_another_run_is_not_resumed(tmp_path: Path) -> None:
    with pytest.raises(Killed):
        engine.train(ToyRun(kill_at=3), SETTINGS, tmp_path / "w", tmp_path / "out")
    other = ToyRun(fingerprint="other")
    summary = engine.train(other, SETTINGS, tmp_path / "w", tmp_path / "out")
    assert summary["epochs_run"] == 6
    assert not (tmp_path / "w/toy").exists()  # another run's work folder is removed


@pytest.mark.parametrize(("min_epochs", "expected"), [(0, 3), (5, 5)])
def test_early_stopping_waits_for_min_epochs_and_keeps_the_best(
    tmp_path: Path, min_epochs: int, expected: int
) -> None:
    run = ToyRun(flat_after=1)
    settings = LoopSettings(patience=2, min_epochs=min_epochs, best_in_memory=True)
    summary = engine.train(run, settings, tmp_path / "w", tmp_path / "out")
    assert summary["epochs_run"] == expected
    assert summary["entered"] == ["bias", "all"]  # every phase is entered, even after a stop
    history = load_checkpoint(tmp_path / "out/last.pt")["history"]
    best = min(history, key=lambda r: r["val_loss"])
    assert best["epoch"] == 1.0  # the kept weights are those of the best epoch
    kept = load_checkpoint(tmp_path / "out/best.pt")["model"]
    assert math.isclose(load_checkpoint(tmp_path / "out/last.pt")["best"], -best["val_loss"])
    assert set(kept) == {"weight", "bias"}


def test_best_on_disk_and_numbered_checkpoints(tmp_path: Path) -> None:
    """Runs that keep every checkpoint (pretraining) find them in the work folder."""
    run = ToyRun(flat_after=3)
    settings = LoopSettings(checkpoint_every=2)
    engine.train(run, settings, tmp_path / "w", tmp_path / "out")
    assert run.checkpoints == ["best.pt", "epoch_002.pt", "epoch_004.pt", "epoch_006.pt", "last.pt"]
    history = load_checkpoint(tmp_path / "out/last.pt")["history"]
    assert [r["val_loss"] for r in history[:3]] == sorted(r["val_loss"] for r in history[:3])[::-1]
    assert run.best_epoch == 3  # improved through epoch 3, flat after: best.pt is epoch 3's


def test_autocast_is_bf16_on_cuda_only() -> None:
    assert isinstance(engine.autocast(torch.device("cpu"), "auto"), contextlib.nullcontext)
    assert isinstance(engine.autocast(torch.device("cuda"), "off"), contextlib.nullcontext)
    with warnings.catch_warnings():  # without a GPU torch warns that it disables autocast
        warnings.simplefilter("ignore", UserWarning)
        on_gpu = engine.autocast(torch.device("cuda"), "auto")
    assert isinstance(on_gpu, torch.autocast) and on_gpu.fast_dtype == torch.bfloat16
