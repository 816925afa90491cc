"""Checkpoint files: canonical bytes, exact round trips, old files, clear errors."""

from __future__ import annotations

import copy
import io
import pickle
from pathlib import Path

import pytest
import torch

from ttmbio.errors import SourceError
from ttmbio.training.checkpoint import checkpoint_bytes, load_checkpoint, save_checkpoint


def _payload() -> dict:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(5, 4)).sum().backward()
    optimizer.step()
    shared = 0.25  # one object in every row, as a fresh run's history holds it
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),  # int keys, tuples (betas)
        "history": [{"train_loss": 1.5, "baseline": shared} for _ in range(3)],
        "best": float("inf"),
        "channels": ["PPG", "ECG"],
        "spectrum": None,
    }


def _fresh_objects(payload: dict) -> dict:
    """The same values as new Python objects: what a resumed run holds after loading."""
    return pickle.loads(pickle.dumps(payload))


def test_equal_content_gives_equal_bytes_whatever_the_objects() -> None:
    payload = _payload()
    resumed = _fresh_objects(payload)
    resumed["history"][2] = {"train_loss": 1.5, "baseline": 0.25 + 0.0}  # a new float object
    assert checkpoint_bytes(resumed) == checkpoint_bytes(payload)

    def torch_bytes(p: dict) -> bytes:
        buffer = io.BytesIO()
        torch.save(p, buffer)
        return buffer.getvalue()

    # why: pickle records object identity, so the same values give other bytes
    assert torch_bytes(resumed) != torch_bytes(payload)


def test_round_trip_is_exact(tmp_path: Path) -> None:
    payload = _payload()
    save_checkpoint(tmp_path / "last.pt", payload)
    loaded = load_checkpoint(tmp_path / "last.pt")
    assert loaded.keys() == payload.keys()
    for name, tensor in payload["model"].items():
        assert torch.equal(loaded["model"][name], tensor)
    assert loaded["optimizer"]["param_groups"] == payload["optimizer"]["param_groups"]
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert set(loaded["optimizer"]["state"]) == {0, 1, 2, 3}
    assert loaded["history"] == payload["history"] and loaded["best"] == float("inf")
    assert loaded["channels"] == ["PPG", "ECG"] and loaded["spectrum"] is None
    # the loaded optimizer state drives an optimizer exactly as the original does
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    optimizer.load_state_dict(copy.deepcopy(loaded["optimizer"]))
    assert torch.equal(
        optimizer.state_dict()["state"][0]["exp_avg"], payload["optimizer"]["state"][0]["exp_avg"]
    )
    assert checkpoint_bytes(loaded) == checkpoint_bytes(payload)


def test_checkpoints_of_earlier_versions_still_load(tmp_path: Path) -> None:
    path = tmp_path / "old.pt"
    torch.save({"epoch": 3, "encoder": {"w": torch.ones(2)}}, path)
    loaded = load_checkpoint(path)
    assert loaded["epoch"] == 3 and torch.equal(loaded["encoder"]["w"], torch.ones(2))


@pytest.mark.parametrize("content", [b"", b"garbage bytes", None])
def test_a_broken_file_is_one_line_naming_it(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "best.pt"
    if content is None:  # truncated: the first half of a real checkpoint
        save_checkpoint(path, _payload())
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(content)
    with pytest.raises(SourceError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert message.startswith(f"{path}: not a readable checkpoint (") and "\n" not in message


def test_a_value_it_cannot_store_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="checkpoint value at /config/when: cannot store a"):
        save_checkpoint(tmp_path / "x.pt", {"config": {"when": object()}})
    assert not list(tmp_path.iterdir())  # nothing written
