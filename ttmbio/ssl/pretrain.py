"""Self-supervised pretraining: masked signal modeling on the TTM encoder (spec 001).

Each step hides whole patches (in the normalised space, where 0 is the channel mean), encodes
the masked windows, reconstructs every patch of every channel from that channel's latents and
minimises MSE on the masked patches plus a weighted multi-resolution STFT loss.

Reproducible on CPU: the batch order, the masks and dropout are all seeded from
``(pretrain.seed, epoch, rank)``, so a run resumed from its last checkpoint (saved at the end
of every epoch) ends with the same weights as one that was never interrupted. Checkpoints go
to a work folder outside DVC's outputs while training, and the output folder is written whole
at the end.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm
from transformers import get_cosine_schedule_with_warmup

from ttmbio.atomic import atomic_write_json
from ttmbio.errors import SourceError
from ttmbio.model.decoder import MaskedAutoencoder, PatchDecoder, SpectrumHead
from ttmbio.model.encoder import TTMEncoder, load_pretrained
from ttmbio.params import Params
from ttmbio.ssl.losses import (
    MultiResolutionSTFTLoss,
    STFTResolution,
    linear_interpolation_baseline,
    masked_mse,
)
from ttmbio.ssl.masking import apply_mask, expand_to_samples, patch_mask
from ttmbio.ssl.spectrum import band_edges, log_band_power
from ttmbio.ssl.summary import PretrainSummary, write_pretrain_summary
from ttmbio.training import engine
from ttmbio.training.distributed import DistInfo
from ttmbio.training.engine import (
    LoopSettings,
    MetricLogger,
    OverTrainer,
    Phase,
    Progress,
    autocast,
    fingerprint_of,
)
from ttmbio.windows.dataset import WindowDataset, epoch_loader, make_loader
from ttmbio.windows.stats import STATS_FILE

DATASET = "vitaldb"


@dataclass
class Pretrainer:
    """Everything one pretraining run holds; built by :func:`build_pretrainer`."""

    params: Params
    model: MaskedAutoencoder
    train: WindowDataset
    val: WindowDataset
    dist: DistInfo
    fingerprint: str
    stft: MultiResolutionSTFTLoss
    bands: list[tuple[int, int]]  # rFFT bins of the spectrum objective's bands
    optimizer: torch.optim.Optimizer = field(init=False)
    scheduler: torch.optim.lr_scheduler.LambdaLR = field(init=False)
    net: nn.Module = field(init=False)  # the model, DDP-wrapped when distributed

    def __post_init__(self) -> None:
        pp = self.params.pretrain
        self.model.to(self.dist.device)
        self.net = self.model
        if self.dist.distributed:
            ids = [self.dist.device.index] if self.dist.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=pp.lr, weight_decay=pp.weight_decay
        )
        steps = self.steps_per_epoch()
        self.scheduler = get_cosine_schedule_with_warmup(
            self.optimizer, round(pp.warmup_epochs * steps), pp.epochs * steps
        )

    def steps_per_epoch(self) -> int:
        return len(self.loader(0))

    def loader(self, epoch: int) -> DataLoader:
        pp = self.params.pretrain
        return epoch_loader(
            self.train, pp.batch_size, pp.seed, epoch, self.dist.rank, self.dist.world_size
        )


def fingerprint(params: Params, windows: Path) -> str:
    """What a checkpoint must share with the current run to be resumed from."""
    stats = (windows / DATASET / STATS_FILE).read_text()
    train = (windows / DATASET / "train.zarr" / "zarr.json").read_text()
    return fingerprint_of(
        {
            "model": params.model.model_dump(mode="json"),
            "pretrain": params.pretrain.model_dump(mode="json", exclude={"resume"}),
            "stats": stats,
            "train": train,
        }
    )


def build_pretrainer(params: Params, windows: Path, dist: DistInfo) -> Pretrainer:
    """Datasets, model (optionally from pretrained TTM weights), optimizer, schedule."""
    channels = params.model.channels
    length = params.model.context_length
    train = WindowDataset(windows / DATASET / "train.zarr", channels, length=length)
    val = WindowDataset(windows / DATASET / "val.zarr", channels, length=length)
    for name, ds in (("train", train), ("val", val)):
        if len(ds) == 0:
            raise SourceError(
                f"{ds.store.path}: the {name} split has no windows; pretraining needs both "
                "(check splits.ratios and metrics/windows.json rejections)"
            )
    torch.manual_seed(params.pretrain.seed)  # the same initial weights on every rank
    encoder = TTMEncoder(params.model)
    if params.model.pretrained:
        load_pretrained(encoder, params.model.pretrained, params.model.revision)
    pp = params.pretrain
    spectrum = (
        SpectrumHead(params.model.d_model, pp.spectrum_bands) if pp.spectrum_weight > 0 else None
    )
    model = MaskedAutoencoder(encoder, PatchDecoder(params.model, pp.decoder_hidden), spectrum)
    bands = band_edges(length, params.windows.fs, pp.spectrum_bands, pp.spectrum_low_hz)
    stft = MultiResolutionSTFTLoss(
        [STFTResolution(r.n_fft, r.hop_length) for r in params.pretrain.stft_resolutions],
        signal_length=params.model.context_length,
        eps=params.pretrain.stft_eps,
    ).to(dist.device)
    return Pretrainer(params, model, train, val, dist, fingerprint(params, windows), stft, bands)


def _mask(batch: int, t: Pretrainer, generator: torch.Generator) -> torch.Tensor:
    pp, mp = t.params.pretrain, t.params.model
    mask = patch_mask(
        batch,
        len(mp.channels),
        mp.n_patches,
        pp.mask_ratio,
        pp.mask_kind,
        generator,
        pp.block_patches,
        pp.mask_shared_channels,
    )
    return expand_to_samples(mask, mp.patch_length)


def _losses(
    t: Pretrainer, x: torch.Tensor, sample_mask: torch.Tensor
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The loss and its parts (``loss``, ``msm``, ``stft``, ``spectrum``), and the windows
    as reconstructed."""
    pp = t.params.pretrain
    with autocast(t.dist.device, pp.amp):
        recon, bands = t.net(apply_mask(x, sample_mask), ~sample_mask)
    recon = recon.float()
    msm = masked_mse(recon, x, sample_mask)
    # the spectrum of the window as completed by the model: visible samples are given, so
    # the spectral loss judges only what the model filled in (and how it joins the rest)
    stft = t.stft(torch.where(sample_mask, recon, x), x)
    parts = {"msm": msm, "stft": stft}
    loss = msm + pp.stft_weight * stft
    if bands is not None:
        target = log_band_power(x, t.bands, pp.spectrum_eps)
        parts["spectrum"] = nn.functional.mse_loss(bands.float(), target)
        loss = loss + pp.spectrum_weight * parts["spectrum"]
    return {"loss": loss, **parts}, recon


def train_epoch(t: Pretrainer, epoch: int, show_progress: bool) -> dict[str, float]:
    pp = t.params.pretrain
    seed = pp.seed * 1_000_003 + epoch * 1_009 + t.dist.rank
    torch.manual_seed(seed)  # dropout
    generator = torch.Generator().manual_seed(seed)
    t.net.train()
    totals: dict[str, float] = {}
    n = 0
    batches = t.loader(epoch)
    bar = tqdm(
        batches,
        total=t.steps_per_epoch(),
        desc=f"pretrain epoch {epoch + 1}",
        disable=not show_progress,
        leave=False,
        dynamic_ncols=True,
    )
    for batch in bar:
        x = batch["x"].to(t.dist.device)
        sample_mask = _mask(len(x), t, generator).to(t.dist.device)
        parts, _ = _losses(t, x, sample_mask)
        t.optimizer.zero_grad(set_to_none=True)
        parts["loss"].backward()
        nn.utils.clip_grad_norm_(t.model.parameters(), pp.grad_clip)
        t.optimizer.step()
        t.scheduler.step()
        for key, value in parts.items():
            totals[key] = totals.get(key, 0.0) + value.item() * len(x)
        n += len(x)
        bar.set_postfix(loss=f"{totals['loss'] / n:.4f}")
    return {f"train_{k}": v / max(n, 1) for k, v in totals.items()}


@torch.no_grad()
def evaluate(t: Pretrainer, with_baseline: bool = False) -> dict[str, float]:
    """Val losses and masked-patch NMSE on fixed masks (the same every epoch)."""
    generator = torch.Generator().manual_seed(t.params.pretrain.seed)
    t.net.eval()
    sums: dict[str, float] = {}
    err = {"model": 0.0, "interp": 0.0}
    spread, n = 0.0, 0
    for batch in make_loader(t.val, t.params.pretrain.batch_size, shuffle=False):
        x = batch["x"].to(t.dist.device)
        sample_mask = _mask(len(x), t, generator).to(t.dist.device)
        parts, recon = _losses(t, x, sample_mask)
        for key, value in parts.items():
            sums[key] = sums.get(key, 0.0) + value.item() * len(x)
        m = sample_mask.float()
        err["model"] += float((((recon - x) ** 2) * m).sum())
        if with_baseline:
            guess = linear_interpolation_baseline(x.cpu(), sample_mask.cpu()).to(x.device)
            err["interp"] += float((((guess - x) ** 2) * m).sum())
        spread += float((((x - x.mean(dim=-1, keepdim=True)) ** 2) * m).sum())
        n += len(x)
    out = {f"val_{k}": v / max(n, 1) for k, v in sums.items()}
    out["val_nmse"] = err["model"] / max(spread, 1e-12)
    if with_baseline:
        out["val_nmse_interp"] = err["interp"] / max(spread, 1e-12)
    return out


def _payload(
    t: Pretrainer, epoch: int, history: list[dict[str, float]], best: float
) -> dict[str, Any]:
    return {
        "encoder": t.model.encoder.state_dict(),
        "decoder": t.model.decoder.state_dict(),
        "spectrum": t.model.spectrum.state_dict() if t.model.spectrum is not None else None,
        "optimizer": t.optimizer.state_dict(),
        "scheduler": t.scheduler.state_dict(),
        "epoch": epoch,
        "best_val_loss": best,
        "history": history,
        "fingerprint": t.fingerprint,
        "channels": list(t.params.model.channels),
        "config": {
            "model": t.params.model.model_dump(mode="json"),
            "pretrain": t.params.pretrain.model_dump(mode="json"),
            "windows": {"fs": t.params.windows.fs, "length": t.params.windows.length},
        },
    }


@dataclass
class _PretrainRun(OverTrainer):
    """A pretraining run as the engine drives it: one phase, no early stopping, every
    epoch's checkpoint kept when it improves the val loss (``best.pt``)."""

    t: Pretrainer
    show_progress: bool
    baseline: float  # val masked NMSE of linear interpolation (rank 0)

    def phases(self) -> list[Phase]:
        return [Phase("all", self.t.params.pretrain.epochs, lambda: self.t.optimizer)]

    def train_epoch(self, epoch: int, optimizer: torch.optim.Optimizer) -> dict[str, float]:
        # no timings in the history: outputs must be byte-identical between reruns
        return train_epoch(self.t, epoch, self.show_progress and self.dist.is_main)

    def evaluate(self, epoch: int, phase: int) -> dict[str, Any]:
        return evaluate(self.t) | {
            "val_nmse_interp": self.baseline,
            "lr": self.t.scheduler.get_last_lr()[0],
            "epoch": epoch + 1,
        }

    def monitor(self, row: dict[str, float]) -> float:
        return -row["val_loss"]

    def payload(self, progress: Progress, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        return _payload(self.t, progress.epoch - 1, progress.history, -progress.best)

    def restore(self, ckpt: dict[str, Any]) -> Progress:
        """Weights and schedule; the engine restores the optimizer."""
        t = self.t
        t.model.encoder.load_state_dict(ckpt["encoder"])
        t.model.decoder.load_state_dict(ckpt["decoder"])
        if t.model.spectrum is not None:
            t.model.spectrum.load_state_dict(ckpt["spectrum"])
        t.scheduler.load_state_dict(ckpt["scheduler"])
        best = -float(ckpt["best_val_loss"])
        return Progress(int(ckpt["epoch"]) + 1, list(ckpt["history"]), best)

    def report(self, row: dict[str, float]) -> None:
        tqdm.write(
            f"pretrain epoch {row['epoch']}/{self.t.params.pretrain.epochs}: train "
            f"{row['train_loss']:.4f} val {row['val_loss']:.4f} val NMSE {row['val_nmse']:.3f} "
            f"(interpolation {self.baseline:.3f})"
        )

    def finish(
        self, progress: Progress, optimizer: torch.optim.Optimizer, work: Path, out: Path
    ) -> PretrainSummary:
        """Every checkpoint of the work folder, the summary and the history."""
        t, history = self.t, progress.history
        best_row = min(history, key=lambda r: r["val_loss"])
        summary = PretrainSummary(
            best_epoch=int(best_row["epoch"]),
            best_val_loss=best_row["val_loss"],
            val_nmse=best_row["val_nmse"],
            val_nmse_interp=self.baseline,
            nmse_ratio_to_interp=best_row["val_nmse"] / self.baseline,
            epochs=t.params.pretrain.epochs,
            train_windows=len(t.train),
            val_windows=len(t.val),
            channels=list(t.params.model.channels),
            parameters=sum(p.numel() for p in t.model.encoder.parameters()),
            world_size=t.dist.world_size,
        )
        for ckpt in sorted(work.glob("*.pt")):
            shutil.copy2(ckpt, out / ckpt.name)
        write_pretrain_summary(out, summary)
        atomic_write_json(out / "history.json", history)
        return summary


def run_pretraining(
    t: Pretrainer,
    work: Path,
    out: Path,
    logger: MetricLogger | None = None,
    show_progress: bool = True,
) -> PretrainSummary | None:
    """Train (resuming when possible), checkpoint every epoch, write ``out`` whole at the end.

    Returns the summary written to ``out/summary.json`` (None in the processes other than the
    first under torchrun: they write nothing).
    """
    pp = t.params.pretrain
    main = t.dist.is_main
    baseline = evaluate(t, with_baseline=True)["val_nmse_interp"] if main else float("nan")
    run = _PretrainRun(t, show_progress, baseline)
    settings = LoopSettings(resume=pp.resume, checkpoint_every=pp.checkpoint_every)
    summary = engine.train(run, settings, work, out, logger, run.report)
    return summary if isinstance(summary, PretrainSummary) else None
