from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.windows.test_store import write_store
from ttmbio.windows.dataset import BlockBatchSampler, WindowDataset, make_loader


def test_sampler_visits_every_window_once_in_block_pools() -> None:
    sampler = BlockBatchSampler(n=103, block=10, batch_size=16, seed=1, pool_blocks=2)
    batches = list(sampler)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(103)) and len(batches) == len(sampler) == 7
    # a batch comes from one pool of two blocks, or straddles two pools
    assert all(len({i // 10 for i in b}) <= 4 for b in batches)
    assert batches == list(BlockBatchSampler(103, 10, 16, seed=1, pool_blocks=2))
    sampler.set_epoch(1)
    assert list(sampler) != batches


def test_sampler_in_order_and_drop_last() -> None:
    assert list(BlockBatchSampler(5, 2, 2, shuffle=False)) == [[0, 1], [2, 3], [4]]
    assert len(list(BlockBatchSampler(5, 2, 2, seed=0, drop_last=True))) == 2


@pytest.fixture
def store_dir(tmp_path: Path) -> tuple[Path, np.ndarray]:
    signals = write_store(tmp_path / "train.zarr", [7, 12])
    stats = {"PPG": {"mean": 0.5, "std": 2.0}, "ECG": {"mean": -1.0, "std": 4.0}}
    (tmp_path / "stats.json").write_text(json.dumps({"split": "train", "channels": stats}))
    return tmp_path, signals


def test_dataset_normalises_with_train_stats_and_picks_channels(
    store_dir: tuple[Path, np.ndarray],
) -> None:
    folder, signals = store_dir
    ds = WindowDataset(folder / "train.zarr", ["ECG", "PPG"], targets=["start_s"])
    batch = ds.__getitems__([17, 2, 5])
    expected = (signals[[17, 2, 5]][:, [1, 0]] - np.array([[-1.0], [0.5]])) / np.array(
        [[4.0], [2.0]]
    )
    np.testing.assert_allclose(batch["x"].numpy(), expected, rtol=1e-6)
    assert batch["start_s"].tolist() == [10.0, 2.0, 5.0]
    assert ds[2]["x"].shape == (2, 16)


def test_loader_yields_every_window_once(store_dir: tuple[Path, np.ndarray]) -> None:
    folder, signals = store_dir
    ds = WindowDataset(folder / "train.zarr", ["PPG", "ECG"], normalize=False)
    seen = torch.cat([b["index"] for b in make_loader(ds, 4, shuffle=True, seed=3)])
    assert sorted(seen.tolist()) == list(range(19))
    xs = torch.cat([b["x"] for b in make_loader(ds, 4, shuffle=False)])
    np.testing.assert_array_equal(xs.numpy(), signals)


def test_each_block_is_read_once_per_epoch(tmp_path: Path) -> None:
    write_store(tmp_path / "train.zarr", [50, 47], shard=8, chunk=4)
    ds = WindowDataset(tmp_path / "train.zarr", ["PPG"], normalize=False)
    reads: list[tuple[int, int]] = []
    read = ds.store.read
    ds.store.read = lambda a, b, c=None: reads.append((a, b)) or read(a, b, c)  # type: ignore[method-assign]
    seen = [i for b in make_loader(ds, 8, shuffle=True, seed=0) for i in b["index"].tolist()]
    assert sorted(seen) == list(range(97))
    assert sorted(reads) == [(s, min(s + 8, 97)) for s in range(0, 97, 8)]  # whole shards, once


def test_ranks_split_batches_evenly_and_disjointly() -> None:
    ranks = [list(BlockBatchSampler(101, 10, 8, seed=2, rank=r, world_size=2)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 6  # 13 batches -> 6 each, the odd one dropped
    seen = [i for batches in ranks for b in batches for i in b]
    assert len(seen) == len(set(seen))


def test_subset_restricts_batches_to_the_given_windows() -> None:
    subset = np.array([3, 50, 7, 99, 64])
    for shuffle in (True, False):
        sampler = BlockBatchSampler(103, 10, 2, shuffle=shuffle, seed=0, subset=subset)
        seen = [i for b in sampler for i in b]
        assert sorted(seen) == sorted(subset.tolist()) and len(sampler) == 3


def test_with_loader_workers_each_pool_goes_to_one_worker() -> None:
    """A DataLoader gives batch k to worker k % workers: two workers must not both decode a
    block. The batches are the same ones, only reordered; with no workers nothing changes."""
    plain = BlockBatchSampler(4096, 256, 256, seed=3)
    dealt = BlockBatchSampler(4096, 256, 256, seed=3, workers=2)
    batches, reordered = list(plain), list(dealt)
    assert batches == list(BlockBatchSampler(4096, 256, 256, seed=3, workers=1))
    assert sorted(map(tuple, batches)) == sorted(map(tuple, reordered)) and batches != reordered
    blocks = [{i // 256 for b in reordered[w::2] for i in b} for w in range(2)]
    assert blocks[0].isdisjoint(blocks[1]) and blocks[0] | blocks[1] == set(range(16))
    # a short last block (4000 windows: 15 blocks and 160) is pooled last, so the pools
    # before it still go whole to one worker
    for seed in range(5):
        dealt = list(BlockBatchSampler(4000, 256, 256, seed=seed, workers=2))
        blocks = [{i // 256 for b in dealt[w::2][:6] for i in b} for w in range(2)]
        assert blocks[0].isdisjoint(blocks[1]), seed


def test_loader_with_two_workers_yields_every_window_once(
    store_dir: tuple[Path, np.ndarray],
) -> None:
    folder, _ = store_dir
    ds = WindowDataset(folder / "train.zarr", ["PPG", "ECG"])
    seen = torch.cat([b["index"] for b in make_loader(ds, 16, shuffle=True, workers=2)])
    assert sorted(seen.tolist()) == list(range(len(ds)))
