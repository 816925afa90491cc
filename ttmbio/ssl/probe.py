"""Frozen-encoder diagnostics: linear probes on pooled latents, per layer, and their rank.

A reconstruction loss says how well an encoder fills in masked patches, not whether its
latents carry what downstream tasks need. A linear probe does: pool the frozen encoder's
latents of each window (mean over patches, channels concatenated, the fine-tuning head's
``mean_concat`` features), fit scikit-learn's logistic regression (binary labels, scored by
val AUROC) or ridge regression (continuous labels, scored by val R²) on train, score on val.
Run for a pretrained and a randomly initialised encoder of the same shape, the difference is
what pretraining added. The effective rank (Roy & Vetterli 2007: the exponential of the
entropy of the normalised singular values) flags feature collapse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ttmbio.model.encoder import TTMEncoder, log_std
from ttmbio.params import TASKS, Params
from ttmbio.training.checkpoint import load_checkpoint
from ttmbio.training.meta import encoder_meta
from ttmbio.windows.dataset import WindowDataset, make_loader


@dataclass(frozen=True)
class ProbeTarget:
    """A per-window label of the window store and how a probe reads it."""

    name: str  # a metadata column of the store, e.g. ``hypotension`` or ``map_mmhg``
    kind: str  # "binary" (logistic, AUROC) or "regression" (ridge, R²)


@torch.no_grad()
def layer_features(
    encoder: TTMEncoder, ds: WindowDataset, batch_size: int = 256
) -> list[np.ndarray]:
    """Pooled features of every window after the patch embedding and after each block.

    Returns ``num_layers + 1`` arrays of ``[N, C * d_model]`` (index 0: the embedded
    patches before any mixer block; the last: the encoder's output).
    """
    encoder.eval()
    per_layer: list[list[np.ndarray]] = []
    for batch in make_loader(ds, batch_size, shuffle=False):
        hidden = encoder.hidden_states(batch["x"])
        if not per_layer:
            per_layer = [[] for _ in hidden]
        for store, h in zip(per_layer, hidden, strict=True):
            store.append(h.mean(dim=2).flatten(start_dim=1).numpy().astype(np.float64))
    return [np.concatenate(chunks) for chunks in per_layer]


def window_log_std(ds: WindowDataset, batch_size: int = 256) -> np.ndarray:
    """``[N, C]`` log standard deviation of each window's channels: the classical baseline
    the probes stand beside (amplitude alone, no encoder)."""
    chunks = [
        log_std(batch["x"])[..., 0].numpy().astype(np.float64)
        for batch in make_loader(ds, batch_size, shuffle=False)
    ]
    return np.concatenate(chunks)


def effective_rank(features: np.ndarray) -> float:
    """exp(entropy of the normalised singular values) of the centred features."""
    centred = features - features.mean(axis=0, keepdims=True)
    s = np.linalg.svd(centred, compute_uv=False)
    p = s / max(float(s.sum()), 1e-300)
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def probe_score(
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    kind: str,
    c: float = 1.0,
    alpha: float = 1.0,
) -> float:
    """Val AUROC of a logistic probe (binary) or val R² of a ridge probe (regression).

    Windows whose label is unknown (NaN, or < 0 for binary) are left out; standardised
    features; a fixed, moderate regularisation so the probe measures the features rather
    than a tuned probe.
    """
    keep_tr = _known(train_y, kind)
    keep_va = _known(val_y, kind)
    xt, yt, xv, yv = train_x[keep_tr], train_y[keep_tr], val_x[keep_va], val_y[keep_va]
    if kind == "binary":
        if len(np.unique(yt)) < 2 or len(np.unique(yv)) < 2:
            return float("nan")
        model = make_pipeline(
            StandardScaler(), LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        )
        model.fit(xt, yt.astype(int))
        return float(roc_auc_score(yv.astype(int), model.decision_function(xv)))
    model = make_pipeline(StandardScaler(), Ridge(alpha=alpha))
    model.fit(xt, yt)
    return float(r2_score(yv, model.predict(xv)))


def _known(y: np.ndarray, kind: str) -> np.ndarray:
    finite = np.isfinite(y)
    return finite & (y >= 0) if kind == "binary" else finite


def probe_report(
    pretrained: TTMEncoder,
    random: TTMEncoder,
    train: WindowDataset,
    val: WindowDataset,
    targets: Sequence[ProbeTarget],
) -> dict[str, float]:
    """Final-layer probe scores and effective ranks, pretrained beside random init.

    Keys: ``probe_<target>_<auroc|r2>``, ``..._random`` and ``..._log_std`` (the same probe
    on each channel's log window amplitude, no encoder) per target, ``probe_gain_<target>``
    (pretrained minus random), ``effective_rank`` and ``effective_rank_random``. A target
    that cannot be scored (a single class in train or val) is left out.
    """
    out: dict[str, float] = {}
    features = {}
    for name, encoder in (("", pretrained), ("_random", random)):
        tr, va = layer_features(encoder, train)[-1], layer_features(encoder, val)[-1]
        features[name] = (tr, va)
        out[f"effective_rank{name}"] = effective_rank(tr)
    features["_log_std"] = (window_log_std(train), window_log_std(val))
    for target in targets:
        metric = "auroc" if target.kind == "binary" else "r2"
        y_tr = train.targets[target.name].numpy().astype(np.float64)
        y_va = val.targets[target.name].numpy().astype(np.float64)
        scores = {
            name: probe_score(tr, y_tr, va, y_va, target.kind)
            for name, (tr, va) in features.items()
        }
        if not all(np.isfinite(v) for v in scores.values()):
            continue  # one class in train or val: no score rather than a NaN metric
        for name, score in scores.items():
            out[f"probe_{target.name}_{metric}{name}"] = score
        out[f"probe_gain_{target.name}"] = scores[""] - scores["_random"]
    return out


def pretrain_probe(params: Params, windows: Path, checkpoint: Path) -> dict[str, float]:
    """:func:`probe_report` of a pretraining checkpoint on the VitalDB train/val windows,
    beside the encoder pretraining started from (seed ``pretrain.seed``, random weights).

    The probes read the channels the encoder was pretrained on (``model.channels``), whatever
    channels the fine-tuning task of the same name uses; only its label is taken."""
    ckpt = load_checkpoint(checkpoint)
    meta = encoder_meta(ckpt, checkpoint)
    cfg, channels = meta.config.model, meta.channels
    pretrained = TTMEncoder(cfg, channels)
    pretrained.load_state_dict(ckpt["encoder"])
    torch.manual_seed(params.pretrain.seed)
    random = TTMEncoder(cfg, channels)
    specs = [TASKS[name] for name in params.pretrain.probe_tasks]
    targets = [ProbeTarget(spec.target, spec.kind) for spec in specs]
    names = [t.name for t in targets]
    length = cfg.context_length
    train = WindowDataset(windows / "vitaldb" / "train.zarr", channels, names, length=length)
    val = WindowDataset(windows / "vitaldb" / "val.zarr", channels, names, length=length)
    return probe_report(pretrained, random, train, val, targets)
