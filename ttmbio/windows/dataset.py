"""Torch access to a window store, in chunk-aligned batches.

Reading one window at a time from a compressed store would decode a whole chunk per window;
:class:`ChunkBatchSampler` instead shuffles chunk order, pools a few chunks, shuffles windows
within the pool and cuts batches from it, so each chunk is decoded once per epoch.
:class:`WindowDataset` reads a batch with ``__getitems__`` and applies the train-split
normalisation (``stats.json`` next to the stores): ``x = (x - mean) / std`` per channel.
This is the one place normalisation happens, for training, evaluation and prediction alike.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ttmbio.windows.store import WindowStore, read_stats


class ChunkBatchSampler(Sampler[list[int]]):
    """Batches of window indices drawn from pools of ``pool_chunks`` shuffled chunks."""

    def __init__(
        self,
        n: int,
        chunk: int,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        pool_chunks: int = 8,
        drop_last: bool = False,
    ) -> None:
        self.n, self.chunk, self.batch_size = n, chunk, batch_size
        self.shuffle, self.seed, self.pool_chunks, self.drop_last = (
            shuffle,
            seed,
            pool_chunks,
            drop_last,
        )
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle differently (but reproducibly) each epoch."""
        self.epoch = epoch

    def _order(self) -> np.ndarray:
        n_chunks = -(-self.n // self.chunk)
        if not self.shuffle:
            return np.arange(self.n)
        rng = np.random.default_rng([self.seed, self.epoch])
        chunks = rng.permutation(n_chunks)
        pools = []
        for i in range(0, n_chunks, self.pool_chunks):
            idx = np.concatenate(
                [
                    np.arange(c * self.chunk, min((c + 1) * self.chunk, self.n))
                    for c in chunks[i : i + self.pool_chunks]
                ]
            )
            pools.append(rng.permutation(idx))
        return np.concatenate(pools) if pools else np.zeros(0, dtype=np.int64)

    def __iter__(self) -> Iterator[list[int]]:
        order = self._order()
        stop = len(order) - (len(order) % self.batch_size if self.drop_last else 0)
        for i in range(0, stop, self.batch_size):
            yield order[i : i + self.batch_size].tolist()

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (0 if self.drop_last or rest == 0 else 1)


class WindowDataset(Dataset[dict[str, torch.Tensor]]):
    """Normalised windows ``x`` [C, T] (channels chosen by name) and named targets."""

    def __init__(
        self,
        path: Path,
        channels: Sequence[str],
        targets: Sequence[str] = (),
        normalize: bool = True,
        cache_chunks: int = 16,
    ) -> None:
        self.store = WindowStore(path)
        self.channels = list(channels)
        self._channel_idx = self.store.channel_index(self.channels)
        self.targets = {name: torch.from_numpy(self.store.meta(name)) for name in targets}
        stats = read_stats(self.store.path.parent) if normalize else None
        c = len(self.channels)
        self.mean = np.array(
            [stats[ch]["mean"] for ch in self.channels] if stats else [0.0] * c, dtype=np.float32
        )[:, None]
        self.std = np.array(
            [stats[ch]["std"] for ch in self.channels] if stats else [1.0] * c, dtype=np.float32
        )[:, None]
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_chunks = cache_chunks

    def __len__(self) -> int:
        return len(self.store)

    def _chunk(self, c: int) -> np.ndarray:
        if c in self._cache:
            self._cache.move_to_end(c)
            return self._cache[c]
        size = self.store.chunk_windows
        block = self.store.read(c * size, min((c + 1) * size, len(self.store)), self._channel_idx)
        block = (block - self.mean) / self.std
        self._cache[c] = block
        if len(self._cache) > self._cache_chunks:
            self._cache.popitem(last=False)
        return block

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        size = self.store.chunk_windows
        idx = np.asarray(indices, dtype=np.int64)
        x = np.empty((len(idx), len(self.channels), self.store.length), dtype=np.float32)
        for c in np.unique(idx // size):
            hit = np.flatnonzero(idx // size == c)
            x[hit] = self._chunk(int(c))[idx[hit] - c * size]
        batch = {"x": torch.from_numpy(x), "index": torch.from_numpy(idx)}
        batch.update({name: t[idx] for name, t in self.targets.items()})
        return batch

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.__getitems__([i]).items()}


def make_loader(
    dataset: WindowDataset, batch_size: int, shuffle: bool, seed: int = 0, drop_last: bool = False
) -> DataLoader:
    """A DataLoader over chunk-aligned batches (already collated by ``__getitems__``)."""
    sampler = ChunkBatchSampler(
        len(dataset),
        dataset.store.chunk_windows,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
    )
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=_identity)


def _identity(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return batch
