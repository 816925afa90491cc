"""One fine-tuning run's epochs, val metrics, scores and outputs, driven by the training
engine (see :mod:`ttmbio.finetune`)."""

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

from ttmbio.atomic import atomic_write_json
from ttmbio.errors import ConfigError
from ttmbio.finetune.build import Finetuner, stages
from ttmbio.finetune.inference import score_windows, with_ids
from ttmbio.finetune.scores import write_run_scores
from ttmbio.finetune.summary import WATCHED, RunSummary, write_run_summary
from ttmbio.model.heads import EncoderClassifier
from ttmbio.model.lora import lora_fraction, merge_lora
from ttmbio.model.unfreeze import set_stage, trainable_count
from ttmbio.training import engine
from ttmbio.training.checkpoint import save_checkpoint
from ttmbio.training.engine import (
    LoopSettings,
    MetricLogger,
    OverTrainer,
    Phase,
    Progress,
    autocast,
    snapshot,
)
from ttmbio.windows.dataset import PooledWindows, WindowDataset, epoch_loader
from ttmbio.windows.recipe import recipe_of
from ttmbio.windows.stats import read_stats


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
    if not torch.isfinite(scores).all():
        fp = t.params.finetune
        raise ConfigError(
            f"finetune {fp.task} ({fp.init}, seed {fp.seed}): the model's val scores are not "
            f"finite after epoch {len(t.history) + 1} (the weights diverged); lower "
            f"finetune.lr (now {fp.lr}) or finetune.grad_clip (now {fp.grad_clip})"
        )
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
    watched = WATCHED[t.params.finetune.spec.kind]
    return watched.sign * row[watched.key]


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
    ) -> RunSummary:
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
        summary = RunSummary(
            task=fp.task,
            dataset=fp.spec.dataset,
            kind=fp.spec.kind,
            init=fp.init,
            mode=fp.mode,
            lora=fp.lora.enabled,
            lora_fraction=lora_share,
            label_fraction=fp.label_fraction,
            seed=fp.seed,
            train_windows=len(t.train_idx),
            val_windows=len(t.val_idx),
            best_epoch=int(best_row["epoch"]),
            epochs_run=len(t.history),
            trainable_parameters=self.counts,
            **{k: v for k, v in best_row.items() if k.startswith("val_")},
        )
        final = _payload(
            t, best_state, len(t.history) - 1, progress.best, progress.bad_epochs, optimizer
        )
        best_ckpt = {k: v for k, v in final.items() if k not in ("optimizer", "best_model")}
        save_checkpoint(out / "best.pt", {**best_ckpt, "model": best_state})
        save_checkpoint(out / "last.pt", final)
        write_run_summary(out, summary)
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
) -> RunSummary | None:
    """Train through the stages with early stopping; write ``out`` whole; return the summary
    (None in the processes other than the first under torchrun: they write nothing)."""
    fp = t.params.finetune
    settings = LoopSettings(patience=fp.patience, min_epochs=fp.min_epochs, best_in_memory=True)
    summary = engine.train(_FinetuneRun(t, show_progress), settings, work, out, logger)
    return summary if isinstance(summary, RunSummary) else None
