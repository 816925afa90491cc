"""Checkpoints: nested dicts of tensors and primitives, stored in canonical bytes.

Every checkpoint carries the config it was trained with and its channel list (design
contract 3), so a later stage can refuse one that does not fit its own config.

The file is a safetensors file: the tensors under path-like names, and everything else as
one JSON document in its metadata. Equal content gives equal bytes, whatever the Python
objects behind it; a pickle (``torch.save``) does not: it records which values are the same
object, so a run resumed from a checkpoint (its history rows are new objects) wrote files a
few bytes longer than an uninterrupted run, and DVC then saw a new model and re-ran every
stage after it. Loading is safe by construction (no pickle). Checkpoints of earlier
versions (torch zip files) still load, with ``weights_only=True``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from ttmbio.atomic import atomic_write_bytes
from ttmbio.errors import SourceError, first_line

FORMAT = "ttmbio-checkpoint/1"
_TENSOR, _TUPLE, _ITEMS = "__tensor__", "__tuple__", "__items__"  # markers in the JSON tree
_MARKERS = {_TENSOR, _TUPLE, _ITEMS}


def _to_tree(obj: Any, tensors: dict[str, torch.Tensor], path: str) -> Any:
    """JSON-ready copy of ``obj``: tensors move to ``tensors`` (named by their path), tuples
    and dicts with non-string keys (optimizer state: int keys) become marked objects."""
    if isinstance(obj, torch.Tensor):
        if path in tensors:
            raise ValueError(f"checkpoint: two tensors named {path}; rename a key with '/'")
        tensors[path] = obj.detach().cpu().contiguous().clone()  # own storage: no sharing
        return {_TENSOR: path}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not _MARKERS & obj.keys():
            return {k: _to_tree(v, tensors, f"{path}/{k}") for k, v in obj.items()}
        return {
            _ITEMS: [
                [_to_tree(k, tensors, f"{path}/key{i}"), _to_tree(v, tensors, f"{path}/{i}")]
                for i, (k, v) in enumerate(obj.items())
            ]
        }
    if isinstance(obj, tuple):
        return {_TUPLE: [_to_tree(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_to_tree(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"checkpoint value at {path or '/'}: cannot store a {type(obj).__name__}")


def _from_tree(node: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(node, list):
        return [_from_tree(v, tensors) for v in node]
    if not isinstance(node, dict):
        return node
    if _TENSOR in node:
        return tensors[node[_TENSOR]]
    if _TUPLE in node:
        return tuple(_from_tree(v, tensors) for v in node[_TUPLE])
    if _ITEMS in node:
        return {_from_tree(k, tensors): _from_tree(v, tensors) for k, v in node[_ITEMS]}
    return {k: _from_tree(v, tensors) for k, v in node.items()}


def checkpoint_bytes(payload: dict[str, Any]) -> bytes:
    """The canonical file content of ``payload`` (see the module docstring)."""
    tensors: dict[str, torch.Tensor] = {}
    tree = _to_tree(payload, tensors, "")
    document = json.dumps({"format": FORMAT, "payload": tree}, separators=(",", ":"))
    # one metadata key: safetensors writes several in hash-map order, which varies by process
    return safetensors_bytes(tensors, metadata={"ttmbio": document})


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write whole or not at all (temp file, then rename)."""
    atomic_write_bytes(path, checkpoint_bytes(payload))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load safely (no pickle of arbitrary objects); a broken file is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: checkpoint not found; run the stage that writes it")
    with open(path, "rb") as f:
        legacy = f.read(2) == b"PK"  # torch.save's zip: written before version 1
    try:
        if legacy:
            return torch.load(path, map_location="cpu", weights_only=True)
        with safe_open(str(path), framework="pt") as f:
            document = json.loads((f.metadata() or {}).get("ttmbio", "{}"))
            if document.get("format") != FORMAT:
                raise ValueError(f"format {document.get('format')!r}, expected {FORMAT!r}")
            tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
        return _from_tree(document["payload"], tensors)
    except Exception as err:  # torch/safetensors raise several types for corrupt files
        raise SourceError(
            f"{path}: not a readable checkpoint ({first_line(err)}); re-run the stage that "
            "writes it"
        ) from None
