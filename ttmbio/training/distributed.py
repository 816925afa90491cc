"""Process-group set-up for ``torchrun``: gloo on CPU, nccl on CUDA, a no-op otherwise."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes checkpoints, metrics and progress bars."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed() -> DistInfo:
    """Join the process group ``torchrun`` describes in the environment, if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world <= 1:
        return DistInfo(0, 1, torch.device("cuda" if cuda else "cpu"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    device = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
    return DistInfo(dist.get_rank(), dist.get_world_size(), device)


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()


def settle(info: DistInfo) -> None:
    """Free the finished run's DDP wrapper, then wait for every process.

    Each rank frees its model while the process group still exists: a reducer destroyed
    after ``destroy_process_group`` can hang on gloo's worker threads. A run outside
    ``torchrun`` has no wrapper and skips the full collection (~0.4 s over the torch stack).
    """
    if info.distributed:
        gc.collect()
        barrier(info)


@contextmanager
def process_group() -> Iterator[DistInfo]:
    """The process group of a stage run under ``torchrun`` (none outside it), left on exit."""
    info = init_distributed()
    try:
        yield info
    finally:
        shutdown(info)
