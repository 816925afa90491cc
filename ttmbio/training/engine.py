"""The one epoch loop that pretraining, fine-tuning and cross-validation folds run through.

The engine owns what every training run shares:

- the work folder ``<work>/<fingerprint>`` (other runs' checkpoints removed) and the resume
  from its ``last.pt`` when that checkpoint belongs to this run (same fingerprint);
- the epochs, phase by phase (each phase sets what trains and brings its optimizer, whose
  state a resumed run restores when it stops inside that phase), with early stopping on
  the monitored value (higher is better) when the run has a patience;
- one logged row per epoch (a resumed run replays its history first: curves start at 1);
- the checkpoints: the best epoch's weights (in memory, or in ``best.pt``), numbered files
  every ``checkpoint_every`` epochs and ``last.pt`` always last, so a run killed at any
  point redoes at most one epoch;
- mixed precision: bfloat16 autocast on CUDA (``amp: auto``), float32 on CPU;
- under DDP: every rank trains, rank 0 evaluates and writes, a barrier ends each epoch and
  the replicas' weights are checked to be equal at the end;
- the output folder, written whole by the run's ``finish`` (``atomic_dir``), and the work
  folder removed: resume is for interrupted runs only.

A run supplies a :class:`Run`: one epoch of training (seeded from the epoch number, which
makes a resumed run end with the same weights), evaluation, its checkpoint payload and the
restore from one, and the files it leaves.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from ttmbio.atomic import atomic_dir
from ttmbio.training.checkpoint import load_checkpoint, save_checkpoint
from ttmbio.training.distributed import DistInfo, barrier

Row = dict[str, float]
State = dict[str, torch.Tensor]


class MetricLogger(Protocol):
    """What a loop needs of a logger (``dvclive.Live`` fits)."""

    def log_metric(self, name: str, val: float) -> None: ...

    def next_step(self) -> None: ...


class RunLogger(MetricLogger, Protocol):
    """A stage's logger: per-epoch metrics, then a summary and an end (``dvclive.Live``)."""

    summary: dict[str, Any]

    def end(self) -> None: ...


def log_row(logger: MetricLogger | None, row: dict[str, float]) -> None:
    """One epoch's values as one logger step (``epoch`` itself is the step)."""
    if logger is None:
        return
    for key, value in row.items():
        if key != "epoch":
            logger.log_metric(key, float(value))
    logger.next_step()


def fingerprint_of(parts: dict[str, Any]) -> str:
    """A short hash of everything a checkpoint must share with a run to be resumed by it."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def prepare_work_dir(root: Path, fingerprint: str) -> None:
    """Create ``root/<fingerprint>``; checkpoints of runs with other params are removed."""
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.iterdir():
        if stale.name != fingerprint and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    (root / fingerprint).mkdir(exist_ok=True)


@dataclass(frozen=True)
class Phase:
    """Epochs that train the same parameters with one optimizer; ``enter`` sets what trains
    and returns that optimizer."""

    name: str
    epochs: int
    enter: Callable[[], torch.optim.Optimizer]


@dataclass
class Progress:
    """Where a run stands: what a checkpoint records and a resume restores."""

    epoch: int = 0  # the next epoch to train (0-based)
    history: list[Row] = field(default_factory=list)
    best: float = -math.inf  # the best monitored value so far (higher is better)
    bad_epochs: int = 0  # epochs since it last improved
    best_state: State | None = None  # the best epoch's weights, when kept in memory


@dataclass(frozen=True)
class LoopSettings:
    """How the loop checkpoints and stops; ``patience=None`` trains every epoch."""

    resume: bool = True
    patience: int | None = None
    min_epochs: int = 0
    best_in_memory: bool = False  # else the best epoch's payload is written to best.pt
    checkpoint_every: int | None = None  # numbered checkpoints epoch_NNN.pt


class Run(Protocol):
    """What a training run gives the engine."""

    fingerprint: str
    model: nn.Module
    dist: DistInfo

    def phases(self) -> list[Phase]: ...

    def train_epoch(self, epoch: int, optimizer: torch.optim.Optimizer) -> Row: ...

    def evaluate(self, epoch: int, phase: int) -> Row:
        """The rest of the epoch's row (val metrics, and whatever else the run records)."""
        ...

    def monitor(self, row: Row) -> float:
        """Higher is better."""
        ...

    def payload(self, progress: Progress, optimizer: torch.optim.Optimizer) -> dict[str, Any]: ...

    def restore(self, ckpt: dict[str, Any]) -> Progress:
        """Load the weights (and schedules) of ``ckpt``; return its progress."""
        ...

    def finish(
        self, progress: Progress, optimizer: torch.optim.Optimizer, work: Path, out: Path
    ) -> Any:
        """Write the output files into ``out`` (a temp folder renamed when complete) and
        return the run's summary."""
        ...


class OverTrainer:
    """Base of a :class:`Run` that drives a trainer object ``t`` (a Pretrainer, a
    Finetuner): the fingerprint, model and process group are the trainer's."""

    t: Any

    @property
    def fingerprint(self) -> str:
        return self.t.fingerprint

    @property
    def model(self) -> nn.Module:
        return self.t.model

    @property
    def dist(self) -> DistInfo:
        return self.t.dist


def autocast(device: torch.device, amp: str) -> AbstractContextManager:
    """bfloat16 autocast on CUDA when ``amp`` is "auto" (no loss scaling needed: bf16 has
    float32's range); CPU runs stay float32, byte-identical between reruns."""
    if amp == "auto" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def weights_digest(model: nn.Module) -> str:
    """A hash of every parameter: equal on all DDP ranks when they trained in step."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _check_in_step(run: Run) -> None:
    """Refuse to save replicas that diverged (a DDP bug would otherwise go unnoticed)."""
    if not run.dist.distributed:
        return
    digests: list[str | None] = [None] * run.dist.world_size
    torch.distributed.all_gather_object(digests, weights_digest(run.model))
    if len(set(digests)) != 1:
        raise RuntimeError(f"DDP replicas diverged: weight digests {digests}")


def snapshot(model: nn.Module) -> State:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _resume(run: Run, work: Path, settings: LoopSettings) -> tuple[Progress, dict | None]:
    last = work / "last.pt"
    if settings.resume and last.is_file():
        ckpt = load_checkpoint(last)
        if ckpt.get("fingerprint") == run.fingerprint:
            return run.restore(ckpt), ckpt
    return Progress(), None


def _stop_everywhere(run: Run, stopped: bool) -> bool:
    """Rank 0 decides (it alone evaluates); every rank follows."""
    if not run.dist.distributed:
        return stopped
    flag = [stopped]
    torch.distributed.broadcast_object_list(flag, src=0)
    return bool(flag[0])


def train(
    run: Run,
    settings: LoopSettings,
    work: Path,
    out: Path,
    logger: MetricLogger | None = None,
    report: Callable[[Row], None] | None = None,
) -> Any:
    """Train ``run`` to the end (resuming when possible); rank 0 writes ``out`` whole and gets
    the summary its ``finish`` returns (fine-tuning's is a typed ``RunSummary``), other ranks
    ``{}``."""
    main = run.dist.is_main
    if main:
        prepare_work_dir(work, run.fingerprint)
    barrier(run.dist)
    work = work / run.fingerprint
    if settings.best_in_memory:
        initial = snapshot(run.model)
    progress, ckpt = _resume(run, work, settings)
    if settings.best_in_memory and progress.best_state is None:
        progress.best_state = initial
    for row in progress.history if main else []:
        log_row(logger, row)

    def stopping() -> bool:
        p = settings.patience
        return p is not None and progress.bad_epochs >= p and progress.epoch >= settings.min_epochs

    stopped = stopping()  # an early stop survives a resume
    # the epoch last.pt was saved after: its optimizer state belongs to that epoch's phase
    resumed_after = progress.epoch - 1 if ckpt is not None else -1
    start = 0
    optimizer: torch.optim.Optimizer | None = None
    for number, phase in enumerate(run.phases(), start=1):
        optimizer = phase.enter()
        if ckpt is not None and start <= resumed_after < start + phase.epochs:
            optimizer.load_state_dict(ckpt["optimizer"])
        for epoch in range(max(start, progress.epoch), start + phase.epochs):
            if stopped:
                break
            row = run.train_epoch(epoch, optimizer)
            if main:
                row |= run.evaluate(epoch, number)
                progress.history.append(row)
                log_row(logger, row)
                improved = run.monitor(row) > progress.best
                if improved:
                    progress.best, progress.bad_epochs = run.monitor(row), 0
                    if settings.best_in_memory:
                        progress.best_state = snapshot(run.model)
                else:
                    progress.bad_epochs += 1
                progress.epoch = epoch + 1
                payload = run.payload(progress, optimizer)
                # last.pt goes last: a run killed before it redoes this epoch, so every
                # checkpoint of the epochs in last.pt's history exists
                if improved and not settings.best_in_memory:
                    save_checkpoint(work / "best.pt", payload)
                every = settings.checkpoint_every
                if every and (epoch + 1) % every == 0:
                    save_checkpoint(work / f"epoch_{epoch + 1:03d}.pt", payload)
                save_checkpoint(work / "last.pt", payload)
                if report is not None:
                    report(row)
            progress.epoch = epoch + 1
            stopped = _stop_everywhere(run, stopping())
            barrier(run.dist)
        start += phase.epochs
    if optimizer is None:
        raise ValueError("a training run needs at least one phase with epochs")
    _check_in_step(run)
    if not main:
        return {}
    with atomic_dir(out) as tmp:
        summary = run.finish(progress, optimizer, work, tmp)
    shutil.rmtree(work, ignore_errors=True)
    return summary
