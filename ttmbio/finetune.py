"""Downstream fine-tuning: a head on the (inflated) pretrained encoder, trained in stages.

Schedule (spec 003): stage 1 trains the head alone; in ``ft`` mode stage 2 unfreezes exactly
the last ``unfreeze_last_n`` encoder blocks (or, with LoRA, the LoRA adapters instead) and an
optional stage 3 trains everything at lr/10. ``fm`` mode keeps the encoder frozen throughout
(spec 000's foundation-model mode). Early stopping watches the val metric (AUROC, or MAE for
regression) across stages and the best epoch's weights are kept.

Like pretraining, runs are seeded per epoch and checkpointed every epoch in a work folder,
so an interrupted run resumes and ends with the same weights. The run folder also holds the
kept weights' scores of the val windows and of the whole test store (``ttmbio.run_scores``),
which calibrate, evaluate and label-efficiency read instead of loading the model again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from torch import nn
from tqdm import tqdm

from ttmbio import engine
from ttmbio.atomic import atomic_write_json
from ttmbio.checkpoint import check_compatible, load_checkpoint, save_checkpoint
from ttmbio.distributed import DistInfo
from ttmbio.engine import LoopSettings, OverTrainer, Phase, Progress, autocast, snapshot
from ttmbio.errors import SourceError
from ttmbio.folds import case_folds, window_folds
from ttmbio.inference import score_windows, with_ids
from ttmbio.model.encoder import TTMEncoder
from ttmbio.model.heads import ClassifierHead, EncoderClassifier
from ttmbio.model.inflate import inflate_encoder
from ttmbio.model.lora import LoraSettings, apply_lora, lora_fraction, merge_lora
from ttmbio.model.unfreeze import set_stage, trainable_count
from ttmbio.params import ModelParams, Params
from ttmbio.run_scores import write_run_scores
from ttmbio.training import MetricLogger, fingerprint_of
from ttmbio.windows.dataset import PooledWindows, WindowDataset, epoch_loader
from ttmbio.windows.labels import label_subset
from ttmbio.windows.recipe import recipe_of
from ttmbio.windows.store import read_stats

Stage = tuple[str, int, float]  # (name, epochs, lr)


def stages(params: Params) -> list[Stage]:
    """The stages this run goes through, with their epochs and learning rates."""
    fp = params.finetune
    if fp.mode == "fm":
        return [("head", fp.head_epochs + fp.unfreeze_epochs, fp.lr)]
    middle = "lora" if fp.lora.enabled else "last_n"
    plan = [
        ("head", fp.head_epochs, fp.lr),
        (middle, fp.unfreeze_epochs, fp.lr),
        ("all", fp.full_epochs, fp.lr / 10),
    ]
    return [s for s in plan if s[1] > 0]


def build_model(params: Params, pretrained: Path | None) -> EncoderClassifier:
    """Encoder (pretrained and inflated to the task's channels, or random) plus a head."""
    fp, spec = params.finetune, params.finetune.spec
    torch.manual_seed(fp.seed)
    if fp.init == "pretrained":
        if pretrained is None:
            raise SourceError("finetune.init=pretrained needs a pretrained model folder")
        path = pretrained / "best.pt"
        ckpt = load_checkpoint(path)
        check_compatible(ckpt, path, params.model.model_dump(mode="json"))
        source = TTMEncoder(
            ModelParams.model_validate(ckpt["config"]["model"]), list(ckpt["channels"])
        )
        source.load_state_dict(ckpt["encoder"])
        generator = torch.Generator().manual_seed(fp.seed)
        encoder = inflate_encoder(source, spec.channels, generator, fp.inflation_noise)
    else:
        encoder = TTMEncoder(params.model, spec.channels)
    head = ClassifierHead(
        len(spec.channels),
        params.model.d_model,
        1,
        fp.head.pooling,
        fp.head.hidden_dims,
        fp.head.dropout,
        fp.head.activation,
        fp.head.norm,
    )
    model = EncoderClassifier(encoder, head)
    if fp.lora.enabled:
        lp = fp.lora
        apply_lora(model, LoraSettings(lp.r, lp.alpha, lp.dropout, tuple(lp.target_modules)))
    return model


@dataclass
class Finetuner:
    """Everything one fine-tuning run holds; built by :func:`build_finetuner`."""

    params: Params
    model: EncoderClassifier
    train: WindowDataset | PooledWindows
    val: WindowDataset | PooledWindows
    test: WindowDataset
    train_idx: np.ndarray
    val_idx: np.ndarray
    fingerprint: str
    target_mean: float = 0.0
    target_std: float = 1.0
    pos_weight: float = 1.0
    history: list[dict[str, float]] = field(default_factory=list)
    dist: DistInfo = field(default_factory=lambda: DistInfo(0, 1, torch.device("cpu")))
    net: nn.Module = field(init=False)  # the model, DDP-wrapped per phase under torchrun

    def __post_init__(self) -> None:
        self.model.to(self.dist.device)
        self.net = self.model

    def wrap(self) -> None:
        """Under torchrun, a DDP wrapper over the parameters that train in this phase (DDP
        buckets the trainable parameters when it is built, so each phase builds its own)."""
        if self.dist.distributed:
            ids = [self.dist.device.index] if self.dist.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

    @property
    def binary(self) -> bool:
        return self.params.finetune.spec.kind == "binary"

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.binary:
            weight = torch.tensor(self.pos_weight, device=logits.device)
            return nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=weight)
        return nn.functional.mse_loss(logits, (y - self.target_mean) / self.target_std)


def _split_datasets(
    params: Params, folder: Path, fold: int | None, split_doc: dict[str, Any] | None
) -> tuple[WindowDataset | PooledWindows, WindowDataset | PooledWindows, np.ndarray, np.ndarray]:
    """(train, val, train targets, val targets); a target is NaN where a window is not used.

    Without a fold: the train and val stores. With one: train+val pooled, the fold's cases
    validating and the other folds training.
    """
    spec = params.finetune.spec
    length = params.model.context_length  # stale windows of another length: refused here
    train = WindowDataset(folder / "train.zarr", spec.channels, [spec.target], length=length)
    val = WindowDataset(folder / "val.zarr", spec.channels, [spec.target], length=length)
    if fold is None:
        y_train = train.targets[spec.target].numpy().astype(np.float64)
        return train, val, y_train, val.targets[spec.target].numpy().astype(np.float64)
    if split_doc is None:
        raise ValueError("a fold needs the split file")
    pool = PooledWindows([train, val])
    in_fold = window_folds(pool.meta("case_id"), case_folds(split_doc, spec.dataset), folder)
    y = pool.targets[spec.target].numpy().astype(np.float64)
    return pool, pool, np.where(in_fold == fold, np.nan, y), np.where(in_fold == fold, y, np.nan)


def build_finetuner(
    params: Params,
    windows: Path,
    pretrained: Path | None,
    fold: int | None = None,
    split_doc: dict[str, Any] | None = None,
    dist: DistInfo | None = None,
) -> Finetuner:
    """Model and data of a run; ``fold`` (with the split file) makes it a cross-validation
    fold: trained on the other folds of train+val, validated on this one. ``dist``: the
    process group under torchrun (each rank trains on its share of the batches)."""
    fp, spec = params.finetune, params.finetune.spec
    folder = windows / spec.dataset
    train, val, y_train, y_val = _split_datasets(params, folder, fold, split_doc)
    train_idx = label_subset(y_train, spec.kind, fp.label_fraction, fp.seed)
    val_idx = label_subset(y_val, spec.kind, 1.0, fp.seed)
    for name, idx, y in (("train", train_idx, y_train), ("val", val_idx, y_val)):
        if len(idx) == 0 or (spec.kind == "binary" and len(np.unique(y[idx])) < 2):
            where = folder / f"{name}.zarr" if fold is None else f"{folder} fold {fold}"
            raise SourceError(
                f"{where}: the {name} split has no usable "
                f"{'two-class ' if spec.kind == 'binary' else ''}labels for "
                f"finetune.task={fp.task!r}; check splits and metrics/windows.json"
            )
    model = build_model(params, pretrained)
    test = WindowDataset(
        folder / "test.zarr", spec.channels, [spec.target], length=params.model.context_length
    )
    tuner = Finetuner(
        params,
        model,
        train,
        val,
        test,
        train_idx,
        val_idx,
        fingerprint_of(
            {
                "params": params.model_dump(mode="json", include={"model", "finetune"}),
                "stats": (folder / "stats.json").read_text(),
                "fold": fold,
                "pretrained": (pretrained / "summary.json").read_text()
                if fp.init == "pretrained" and pretrained is not None
                else None,
            }
        ),
        dist=dist or DistInfo(0, 1, torch.device("cpu")),
    )
    labels = y_train[train_idx]
    if spec.kind == "binary":
        positives = float(labels.sum())
        if fp.class_balance == "weights":
            tuner.pos_weight = (len(labels) - positives) / max(positives, 1.0)
    else:
        tuner.target_mean, tuner.target_std = float(labels.mean()), float(labels.std() or 1.0)
    return tuner


def predict(
    t: Finetuner, ds: WindowDataset | PooledWindows, idx: np.ndarray | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores (probabilities, or targets in their units) and labels for windows ``idx``
    (None: every window, in store order)."""
    spec = t.params.finetune.spec
    return score_windows(
        t.model, ds, spec.target, spec.kind, (t.target_mean, t.target_std), subset=idx
    )


def scored_splits(t: Finetuner) -> dict[str, dict[str, np.ndarray]]:
    """The current weights' scores of the val windows early stopping watched, and of every
    window of the test store; the test labels are copied beside them, not looked at
    (evaluate is the first to compute anything from them)."""
    return {
        split: with_ids(ds, *predict(t, ds, idx), idx)
        for split, ds, idx in (("val", t.val, t.val_idx), ("test", t.test, None))
    }


def val_metrics(t: Finetuner) -> dict[str, float]:
    scores, labels = predict(t, t.val, t.val_idx)
    if t.binary:
        # scikit-learn, not torchmetrics: its import (~3 s, transformers' auto classes) was
        # a fifth of a run on 2 cores. Val holds both classes (build_finetuner checks).
        p, y = scores.double().numpy(), labels.numpy()
        return {
            "val_auroc": float(roc_auc_score(y, p)),
            "val_auprc": float(average_precision_score(y, p)),
            "val_accuracy": float(((p > 0.5) == y).mean()),
        }
    return {
        "val_mae": float((scores - labels).abs().mean()),
        "val_rmse": float(((scores - labels) ** 2).mean().sqrt()),
    }


def monitor_value(t: Finetuner, row: dict[str, float]) -> float:
    """Higher is better: AUROC, or minus MAE."""
    return row["val_auroc"] if t.binary else -row["val_mae"]


def train_epoch(t: Finetuner, optimizer: torch.optim.Optimizer, epoch: int, show: bool) -> float:
    fp = t.params.finetune
    torch.manual_seed(fp.seed * 1_000_003 + epoch + t.dist.rank)  # dropout
    t.model.train()
    if not any(p.requires_grad for p in t.model.encoder.parameters()):
        t.model.encoder.eval()  # a frozen encoder is a fixed feature extractor: no dropout
    loader = epoch_loader(
        t.train, fp.batch_size, fp.seed, epoch, t.dist.rank, t.dist.world_size, t.train_idx
    )
    total, n = 0.0, 0
    for batch in tqdm(
        loader,
        desc=f"finetune epoch {epoch + 1}",
        disable=not show,
        leave=False,
        dynamic_ncols=True,
    ):
        x = batch["x"].to(t.dist.device, non_blocking=True)
        y = batch[fp.spec.target].float().to(t.dist.device, non_blocking=True)
        with autocast(t.dist.device, fp.amp):
            out = t.net(x)[:, 0]
        loss = t.loss(out.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_([p for p in t.model.parameters() if p.requires_grad], fp.grad_clip)
        optimizer.step()
        total += loss.item() * len(batch["x"])
        n += len(batch["x"])
    return total / max(n, 1)


def _enter_stage(model: EncoderClassifier, name: str, last_n: int) -> None:
    """Freeze/unfreeze for a stage; the LoRA stage trains the adapters and the head."""
    if name != "lora":
        set_stage(model, name, last_n)  # type: ignore[arg-type]
        return
    set_stage(model, "head")
    for param_name, param in model.encoder.named_parameters():
        if "lora_" in param_name:
            param.requires_grad_(True)


def _payload(
    t: Finetuner,
    best_state: dict[str, torch.Tensor],
    epoch: int,
    best: float,
    bad_epochs: int,
    optimizer: torch.optim.Optimizer,
) -> dict[str, Any]:
    fp = t.params.finetune
    return {
        "model": t.model.state_dict(),
        "best_model": best_state,
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
        "best": best,
        "bad_epochs": bad_epochs,
        "history": t.history,
        "fingerprint": t.fingerprint,
        "channels": fp.spec.channels,
        "task": fp.spec.model_dump(mode="json"),
        "target_scale": [t.target_mean, t.target_std],
        "config": {
            "model": t.params.model.model_dump(mode="json"),
            "finetune": fp.model_dump(mode="json"),
            "windows": {"fs": t.params.windows.fs, "length": t.params.windows.length},
        },
        # how raw recordings become this model's windows, for `ttmbio predict`
        "preprocessing": recipe_of(
            t.params, fp.spec.dataset, read_stats(t.train.folder)
        ).model_dump(mode="json"),
    }


@dataclass
class _FinetuneRun(OverTrainer):
    """A fine-tuning run as the engine drives it: one process, or one per device under
    torchrun (each phase then trains through its own DDP wrapper, see ``Finetuner.wrap``)."""

    t: Finetuner
    show_progress: bool
    counts: dict[str, int] = field(default_factory=dict)  # trainable parameters per phase

    def phases(self) -> list[Phase]:
        def enter(name: str, lr: float) -> Callable[[], torch.optim.Optimizer]:
            def start() -> torch.optim.Optimizer:
                _enter_stage(self.t.model, name, self.t.params.finetune.unfreeze_last_n)
                self.counts[name] = trainable_count(self.t.model)
                self.t.wrap()
                return torch.optim.AdamW(
                    [p for p in self.t.model.parameters() if p.requires_grad],
                    lr=lr,
                    weight_decay=self.t.params.finetune.weight_decay,
                )

            return start

        return [Phase(name, epochs, enter(name, lr)) for name, epochs, lr in stages(self.t.params)]

    def train_epoch(self, epoch: int, optimizer: torch.optim.Optimizer) -> dict[str, float]:
        show = self.show_progress and self.dist.is_main
        return {"train_loss": train_epoch(self.t, optimizer, epoch, show)}

    def evaluate(self, epoch: int, phase: int) -> dict[str, float]:
        return {**val_metrics(self.t), "stage": float(phase), "epoch": float(epoch + 1)}

    def monitor(self, row: dict[str, float]) -> float:
        return monitor_value(self.t, row)

    def payload(self, progress: Progress, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        self.t.history = progress.history
        best_state = progress.best_state if progress.best_state is not None else {}
        return _payload(
            self.t, best_state, progress.epoch - 1, progress.best, progress.bad_epochs, optimizer
        )

    def restore(self, ckpt: dict[str, Any]) -> Progress:
        self.t.model.load_state_dict(ckpt["model"])
        history = list(ckpt["history"])
        self.t.history = history
        return Progress(
            ckpt["epoch"] + 1, history, ckpt["best"], ckpt["bad_epochs"], ckpt["best_model"]
        )

    def finish(
        self, progress: Progress, optimizer: torch.optim.Optimizer, work: Path, out: Path
    ) -> dict[str, Any]:
        """best.pt (the best epoch's weights, LoRA merged), last.pt, summary, history and
        the kept weights' val and test scores."""
        t = self.t
        best_state = progress.best_state if progress.best_state is not None else {}
        t.model.load_state_dict(best_state)
        fp = t.params.finetune
        lora_share = lora_fraction(t.model) if fp.lora.enabled else None
        if lora_share is not None:  # save plain TTM weights: adapters merged into the backbone
            merge_lora(t.model)
            best_state = snapshot(t.model)
        best_row = max(t.history, key=lambda r: monitor_value(t, r))
        summary = {
            "task": fp.task,
            "dataset": fp.spec.dataset,
            "kind": fp.spec.kind,
            "init": fp.init,
            "mode": fp.mode,
            "lora": fp.lora.enabled,
            "label_fraction": fp.label_fraction,
            "seed": fp.seed,
            "train_windows": len(t.train_idx),
            "val_windows": len(t.val_idx),
            "best_epoch": int(best_row["epoch"]),
            "epochs_run": len(t.history),
            "trainable_parameters": self.counts,
            **{k: v for k, v in best_row.items() if k.startswith("val_")},
        }
        if lora_share is not None:
            summary["lora_fraction"] = lora_share
        final = _payload(
            t, best_state, len(t.history) - 1, progress.best, progress.bad_epochs, optimizer
        )
        best_ckpt = {k: v for k, v in final.items() if k not in ("optimizer", "best_model")}
        save_checkpoint(out / "best.pt", {**best_ckpt, "model": best_state})
        save_checkpoint(out / "last.pt", final)
        atomic_write_json(out / "summary.json", summary)
        atomic_write_json(out / "history.json", t.history)
        for split, scored in scored_splits(t).items():
            write_run_scores(out, split, scored)
        return summary


def run_finetuning(
    t: Finetuner,
    work: Path,
    out: Path,
    logger: MetricLogger | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Train through the stages with early stopping; write ``out`` whole; return the summary."""
    fp = t.params.finetune
    settings = LoopSettings(patience=fp.patience, min_epochs=fp.min_epochs, best_in_memory=True)
    return engine.train(_FinetuneRun(t, show_progress), settings, work, out, logger)
