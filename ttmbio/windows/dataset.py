"""Torch access to a window store, in block-aligned batches.

Reading one window at a time from a compressed store would decode a whole shard per window.
:class:`BlockBatchSampler` instead shuffles the order of read blocks (a store's shards, a few
MB each), pools two blocks, shuffles the windows within the pool and cuts batches from it, so
each block is read and decoded once per epoch in one store call, while a batch still mixes
windows of several recordings. :class:`WindowDataset` reads a batch with ``__getitems__`` and
applies the train-split normalisation (``stats.json`` next to the stores):
``x = (x - mean) / std`` per channel, with :func:`channel_scaler`, the one definition of
normalisation for training, evaluation and prediction alike.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ttmbio.errors import ConfigError
from ttmbio.windows.stats import read_stats
from ttmbio.windows.store import WindowStore


class BlockBatchSampler(Sampler[list[int]]):
    """Batches of window indices drawn from pools of ``pool_blocks`` shuffled read blocks.

    Under DDP each of ``world_size`` ranks takes every ``world_size``-th batch, and all ranks
    get the same number of batches (the remainder is dropped), so none waits on the others.
    With ``workers`` > 1 loader processes (a DataLoader hands batch ``k`` to worker
    ``k % workers``) the batches are reordered so that the batches of one pool go to one
    worker, and the short last block is pooled last: otherwise every worker decodes every
    block (measured: 2 workers at batch 256 gave 14k windows/s instead of 28k). This holds
    when ``batch_size`` divides ``pool_blocks * block``; the last few batches, once one
    worker's share runs out, may still share a pool. ``workers`` <= 1 leaves the order as it
    was.
    """

    def __init__(
        self,
        n: int,
        block: int,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        pool_blocks: int = 2,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
        subset: np.ndarray | None = None,
        workers: int = 0,
    ) -> None:
        self.n, self.block, self.batch_size = n, block, batch_size
        self.workers = workers
        self.subset = None if subset is None else np.sort(np.asarray(subset, dtype=np.int64))
        self.shuffle, self.seed, self.pool_blocks = shuffle, seed, pool_blocks
        self.drop_last, self.rank, self.world_size = drop_last, rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle differently (but reproducibly) each epoch."""
        self.epoch = epoch

    def _order(self) -> np.ndarray:
        order = self._block_order()
        return order if self.subset is None else order[np.isin(order, self.subset)]

    def _block_order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.n)
        rng = np.random.default_rng([self.seed, self.epoch])
        blocks = rng.permutation(-(-self.n // self.block))
        if self.workers > 1 and self.n % self.block:  # the short last block last: the pools
            blocks = np.append(blocks[blocks != blocks.max()], blocks.max())  # before it stay
            # whole, so batches do not straddle pools and each pool goes to one worker
        pools = []
        for i in range(0, len(blocks), self.pool_blocks):
            members = [
                np.arange(b * self.block, min((b + 1) * self.block, self.n))
                for b in blocks[i : i + self.pool_blocks]
            ]
            pools.append(rng.permutation(np.concatenate(members)))
        return np.concatenate(pools) if pools else np.zeros(0, dtype=np.int64)

    def __iter__(self) -> Iterator[list[int]]:
        order = self._order()
        batches = []
        for k in range(len(self)):
            i = (k * self.world_size + self.rank) * self.batch_size
            batches.append(order[i : i + self.batch_size].tolist())
        yield from self._for_workers(batches) if self.workers > 1 else batches

    def _for_workers(self, batches: list[list[int]]) -> list[list[int]]:
        """Groups of consecutive batches (about one pool each) dealt to the workers in turn,
        then interleaved so that position ``k`` holds a batch of worker ``k % workers``."""
        pool = self.pool_blocks * self.block
        group = max(1, round(pool / (self.batch_size * self.world_size)))
        queues: list[list[list[int]]] = [[] for _ in range(self.workers)]
        for g in range(0, len(batches), group):
            queues[(g // group) % self.workers] += batches[g : g + group]
        longest = max(len(q) for q in queues)
        return [q[r] for r in range(longest) for q in queues if r < len(q)]

    def __len__(self) -> int:
        n = self.n if self.subset is None else len(self.subset)
        full, rest = divmod(n, self.batch_size)
        return (full + (0 if self.drop_last or rest == 0 else 1)) // self.world_size


def channel_scaler(
    stats: Mapping[str, Mapping[str, float]], channels: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Train-split mean and std as ``[C, 1]`` arrays: windows are normalised as
    ``(x - mean) / std``, here and in ``ttmbio predict`` alike."""
    mean = np.array([stats[ch]["mean"] for ch in channels], dtype=np.float32)[:, None]
    std = np.array([stats[ch]["std"] for ch in channels], dtype=np.float32)[:, None]
    return mean, std


class WindowDataset(Dataset[dict[str, torch.Tensor]]):
    """Normalised windows ``x`` [C, T] (channels chosen by name) and named targets."""

    def __init__(
        self,
        path: Path,
        channels: Sequence[str],
        targets: Sequence[str] = (),
        normalize: bool = True,
        cache_blocks: int = 4,
        length: int | None = None,
    ) -> None:
        self.store = WindowStore(path)
        if length is not None and self.store.length != length:
            raise ConfigError(
                f"{self.store.path}: windows of {self.store.length} samples, but the model reads "
                f"{length} (model.context_length); re-run `ttmbio windows` (dvc repro windows) "
                "so windows.length matches, or restore the params"
            )
        self.store.check()  # a damaged store fails here, before a stage writes anything
        self.channels = list(channels)
        self._channel_idx = self.store.channel_index(self.channels)
        self.targets = {name: torch.from_numpy(self.store.meta(name)) for name in targets}
        stats = read_stats(self.store.path.parent) if normalize else None
        identity = {ch: {"mean": 0.0, "std": 1.0} for ch in self.channels}
        self.mean, self.std = channel_scaler(stats or identity, self.channels)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_blocks = cache_blocks

    def __len__(self) -> int:
        return len(self.store)

    @property
    def block_windows(self) -> int:
        """Windows per read block: batches are cut from pools of whole blocks."""
        return self.store.block_windows

    @property
    def folder(self) -> Path:
        """The dataset folder (``stats.json`` and the split stores)."""
        return self.store.path.parent

    def meta(self, name: str) -> np.ndarray:
        return self.store.meta(name)

    def _block(self, b: int) -> np.ndarray:
        if b not in self._cache:
            size = self.store.block_windows
            rows = self.store.read(b * size, min((b + 1) * size, len(self.store)))
            if list(self._channel_idx) != list(range(rows.shape[1])):
                rows = rows[:, self._channel_idx]  # a fresh array either way: safe in place
            rows -= self.mean
            rows /= self.std
            self._cache[b] = rows
            while len(self._cache) > self._cache_blocks:
                self._cache.popitem(last=False)
        self._cache.move_to_end(b)
        return self._cache[b]

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        size = self.store.block_windows
        idx = np.asarray(indices, dtype=np.int64)
        x = np.empty((len(idx), len(self.channels), self.store.length), dtype=np.float32)
        for b in np.unique(idx // size):
            hit = np.flatnonzero(idx // size == b)
            x[hit] = self._block(int(b))[idx[hit] - b * size]
        batch = {"x": torch.from_numpy(x), "index": torch.from_numpy(idx)}
        batch.update({name: t[idx] for name, t in self.targets.items()})
        return batch

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.__getitems__([i]).items()}


class PooledWindows(Dataset[dict[str, torch.Tensor]]):
    """Several stores of one dataset read as one (train + val for cross-validation folds).

    Index ``i`` runs through the first store, then the next; each part keeps its own block
    cache and its normalisation (the dataset's train statistics), so a window reads the same
    here as from its own store.
    """

    def __init__(self, parts: Sequence[WindowDataset]) -> None:
        if not parts or len({p.block_windows for p in parts}) != 1:
            raise ValueError("PooledWindows needs stores with one block size")
        self.parts = list(parts)
        self.channels = self.parts[0].channels
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])
        self.targets = {
            name: torch.cat([p.targets[name] for p in self.parts]) for name in self.parts[0].targets
        }

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def block_windows(self) -> int:
        return self.parts[0].block_windows

    @property
    def folder(self) -> Path:
        return self.parts[0].folder

    def meta(self, name: str) -> np.ndarray:
        return np.concatenate([p.meta(name) for p in self.parts])

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        idx = np.asarray(indices, dtype=np.int64)
        part_of = np.searchsorted(self.offsets, idx, side="right") - 1
        x = torch.empty((len(idx), len(self.channels), self.parts[0].store.length))
        for k in np.unique(part_of):
            hit = np.flatnonzero(part_of == k)
            x[hit] = self.parts[k].__getitems__((idx[hit] - self.offsets[k]).tolist())["x"]
        batch = {"x": x, "index": torch.from_numpy(idx)}
        batch.update({name: t[idx] for name, t in self.targets.items()})
        return batch

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.__getitems__([i]).items()}


def make_loader(
    dataset: WindowDataset | PooledWindows,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    drop_last: bool = False,
    rank: int = 0,
    world_size: int = 1,
    subset: np.ndarray | None = None,
    workers: int = 0,
) -> DataLoader:
    """A DataLoader over block-aligned batches (already collated by ``__getitems__``);
    ``subset`` restricts it to those window indices (label fractions, known labels);
    ``workers`` loader processes (0: read in the calling process, as training does)."""
    sampler = BlockBatchSampler(
        len(dataset),
        dataset.block_windows,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
        rank=rank,
        world_size=world_size,
        subset=subset,
        workers=workers,
    )
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=_identity,
        num_workers=workers,
        prefetch_factor=4 if workers else None,
    )


def epoch_loader(
    dataset: WindowDataset | PooledWindows,
    batch_size: int,
    seed: int,
    epoch: int,
    rank: int = 0,
    world_size: int = 1,
    subset: np.ndarray | None = None,
) -> DataLoader:
    """A training epoch's shuffled batches: the order is drawn from ``(seed, epoch)``, so a
    resumed run sees the same batches, and under DDP each rank gets its share."""
    loader = make_loader(
        dataset,
        batch_size,
        shuffle=True,
        seed=seed,
        rank=rank,
        world_size=world_size,
        subset=subset,
    )
    loader.batch_sampler.set_epoch(epoch)  # type: ignore[union-attr]
    return loader


def _identity(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return batch
