"""Fine-tuning on tiny data: schedules, label subsets, a short run, LoRA, checkpoints."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fixtures.pipeline import no_progress, tiny_params
from ttmbio.errors import ConfigError, SourceError
from ttmbio.finetune import build, loop
from ttmbio.finetune.summary import RunSummary
from ttmbio.model.encoder import TTMEncoder
from ttmbio.model.heads import ClassifierHead, EncoderClassifier
from ttmbio.params import ModelParams, Params
from ttmbio.splits.file import build_split_file
from ttmbio.ssl import pretrain as pt
from ttmbio.synth.dataset import synthesize
from ttmbio.training.checkpoint import load_checkpoint
from ttmbio.training.distributed import DistInfo
from ttmbio.windows.build import build_windows
from ttmbio.windows.labels import label_subset

EXTRA = {
    "synth": {"butppg": {"n_subjects": 10, "records_per_subject": 4, "good_fraction": 0.5}},
    "splits": {"ratios": {"train": 0.5, "val": 0.25, "test": 0.25}},
    "finetune": {
        "head_epochs": 1,
        "unfreeze_epochs": 1,
        "batch_size": 8,
        "head": {"hidden_dims": [8]},
    },
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Params]:
    tmp = tmp_path_factory.mktemp("finetune")
    params = tiny_params(tmp, EXTRA)
    synthesize(params.synth, tmp / "raw")
    doc, _ = build_split_file(params)
    build_windows(params, doc, tmp / "windows", no_progress)
    trainer = pt.build_pretrainer(params, tmp / "windows", DistInfo(0, 1, torch.device("cpu")))
    pt.run_pretraining(trainer, tmp / "pwork", tmp / "pretrain", show_progress=False)
    return tmp, params


def with_finetune(params: Params, **changes: object) -> Params:
    update = params.finetune.model_dump() | changes
    return params.model_copy(update={"finetune": params.finetune.model_validate(update)})


def test_stage_plans() -> None:
    base = Params()
    assert [s[0] for s in build.stages(base)] == ["head", "last_n"]
    assert build.stages(with_finetune(base, mode="fm")) == [("head", 12, 1e-3)]
    lora = with_finetune(base, lora={"enabled": True}, full_epochs=2)
    assert build.stages(lora) == [("head", 4, 1e-3), ("lora", 8, 1e-3), ("all", 2, 1e-4)]


def test_label_subset_is_stratified_and_skips_unknown_labels() -> None:
    y = np.array([0, 1, -1, 0, 0, 1, 0, 0, 1, 0] * 10, dtype=float)
    full = label_subset(y, "binary", 1.0, seed=0)
    assert -1 not in y[full] and len(full) == 90
    tenth = label_subset(y, "binary", 0.1, seed=0)
    assert sorted(np.unique(y[tenth])) == [0.0, 1.0] and len(tenth) == 9
    assert np.array_equal(tenth, label_subset(y, "binary", 0.1, seed=0))


def run(tiny: tuple[Path, Params], name: str, **changes: object) -> tuple[Path, RunSummary]:
    tmp, params = tiny
    tuner = build.build_finetuner(
        with_finetune(params, **changes), tmp / "windows", tmp / "pretrain"
    )
    summary = loop.run_finetuning(
        tuner, tmp / "work" / name, tmp / "out" / name, show_progress=False
    )
    return tmp / "out" / name, summary


def test_two_epoch_run_writes_a_checkpoint_that_round_trips(tiny: tuple[Path, Params]) -> None:
    out, summary = run(tiny, "ft")
    assert summary.epochs_run == 2 and 0.0 <= summary.val_auroc <= 1.0
    counts = summary.trainable_parameters
    assert counts["head"] < counts["last_n"]
    ckpt = load_checkpoint(out / "best.pt")
    assert ckpt["channels"] == ["ACC_X", "ACC_Y", "ACC_Z", "PPG", "ECG"]
    cfg = ModelParams.model_validate(ckpt["config"]["model"])
    head_cfg = ckpt["config"]["finetune"]["head"]
    model = EncoderClassifier(
        TTMEncoder(cfg, ckpt["channels"]),
        ClassifierHead(5, cfg.d_model, 1, head_cfg["pooling"], head_cfg["hidden_dims"]),
    )
    model.load_state_dict(ckpt["model"])
    assert (out / "summary.json").is_file() and (out / "history.json").is_file()


def test_fm_mode_keeps_the_encoder_frozen(tiny: tuple[Path, Params]) -> None:
    _, summary = run(tiny, "fm", mode="fm")
    assert list(summary.trainable_parameters) == ["head"]


def test_lora_run_trains_few_parameters_and_saves_merged_weights(
    tiny: tuple[Path, Params],
) -> None:
    out, summary = run(tiny, "lora", lora={"enabled": True})
    assert 0 < summary.lora_fraction < 0.1  # <= 5 % on the default encoder: test_lora.py
    assert not any("lora_" in k for k in load_checkpoint(out / "best.pt")["model"])


def test_scratch_init_needs_no_pretrained_model(tiny: tuple[Path, Params]) -> None:
    tmp, params = tiny
    tuner = build.build_finetuner(
        with_finetune(params, init="scratch", label_fraction=0.5), tmp / "windows", None
    )
    assert len(tuner.train_idx) < len(tuner.train)


def test_pretrained_init_without_a_model_is_a_clear_error(tiny: tuple[Path, Params]) -> None:
    tmp, params = tiny
    with pytest.raises(SourceError, match="checkpoint not found"):
        build.build_finetuner(params, tmp / "windows", tmp / "no-such-model")
    shutil.copytree(tmp / "pretrain", tmp / "no-summary")
    (tmp / "no-summary" / "summary.json").unlink()
    with pytest.raises(SourceError, match=r"no-summary/summary\.json: not a pretraining output"):
        build.build_finetuner(params, tmp / "windows", tmp / "no-summary")


def test_interrupted_run_resumes_to_the_same_weights(
    tiny: tuple[Path, Params], monkeypatch: pytest.MonkeyPatch
) -> None:
    straight, _ = run(tiny, "straight", unfreeze_epochs=2)
    real = loop.train_epoch

    def killed_in_stage_two(t, optimizer, epoch, show):
        if epoch == 2:
            raise KeyboardInterrupt
        return real(t, optimizer, epoch, show)

    monkeypatch.setattr(loop, "train_epoch", killed_in_stage_two)
    with pytest.raises(KeyboardInterrupt):
        run(tiny, "resumed", unfreeze_epochs=2)
    assert not (tiny[0] / "out" / "resumed").exists()
    monkeypatch.setattr(loop, "train_epoch", real)
    resumed, summary = run(tiny, "resumed", unfreeze_epochs=2)
    assert summary.epochs_run == 3
    a, b = load_checkpoint(straight / "best.pt"), load_checkpoint(resumed / "best.pt")
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert a["history"] == b["history"]


@pytest.mark.parametrize("task", ["vitaldb_map", "vitaldb_hr"])
def test_regression_tasks_report_mae_in_their_units(tiny: tuple[Path, Params], task: str) -> None:
    out, summary = run(tiny, task, task=task)
    assert summary.task == task and summary.val_mae > 0 and summary.val_auroc is None
    assert load_checkpoint(out / "best.pt")["channels"] == ["PPG", "ECG"]
    mean, std = load_checkpoint(out / "best.pt")["target_scale"]
    assert (40 < mean < 140) and std > 0  # mmHg or bpm, not normalised units


def test_frozen_encoder_runs_without_dropout(tiny: tuple[Path, Params]) -> None:
    tmp, params = tiny
    tuner = build.build_finetuner(
        with_finetune(params, mode="fm"), tmp / "windows", tmp / "pretrain"
    )
    loop._enter_stage(tuner.model, "head", 1)
    seen: list[bool] = []
    tuner.model.encoder.register_forward_hook(lambda m, i, o: seen.append(m.training))
    optimizer = torch.optim.AdamW([p for p in tuner.model.parameters() if p.requires_grad])
    loop.train_epoch(tuner, optimizer, 0, False)
    assert seen and not any(seen) and tuner.model.head.training


@pytest.mark.parametrize(("min_epochs", "expected"), [(0, 2), (4, 4)])
def test_no_early_stop_before_min_epochs(
    tiny: tuple[Path, Params], monkeypatch: pytest.MonkeyPatch, min_epochs: int, expected: int
) -> None:
    """A run that never improves after epoch 1 stops at patience, but not before min_epochs."""
    flat = {"val_auroc": 0.5, "val_auprc": 0.5, "val_accuracy": 0.5}
    monkeypatch.setattr(loop, "val_metrics", lambda t: dict(flat))
    _, summary = run(
        tiny, f"flat{min_epochs}", unfreeze_epochs=4, patience=1, min_epochs=min_epochs
    )
    assert summary.epochs_run == expected and summary.best_epoch == 1


def test_the_training_modules_leave_out_what_they_do_not_use() -> None:
    """Each costs seconds of every training process on 2 cores: torchmetrics pulls in
    transformers' auto classes (~3 s; val metrics come from scikit-learn instead),
    granite-tsfm's toolkit with datasets and pandas (~1-2 s; :mod:`ttmbio.ttm` defers the
    package's ``__init__``) and peft (~1.5 s; imported only when LoRA adapters are used)."""
    import subprocess
    import sys

    modules = [
        "ttmbio.finetune.loop",
        "ttmbio.finetune.build",
        "ttmbio.ssl.pretrain",
        "ttmbio.cv.fold",
        "ttmbio.forecast.model",
    ]
    unused = ["torchmetrics", "tsfm_public.toolkit", "datasets", "peft"]
    code = (
        f"import sys, importlib\nfor m in {modules!r}: importlib.import_module(m)\n"
        f"print([m for m in {unused!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == "[]", f"imported: {done.stdout.strip()}"


def test_diverged_weights_stop_the_run_with_one_line(
    tiny: tuple[Path, Params], monkeypatch: pytest.MonkeyPatch
) -> None:
    """NaN val scores (weights that diverged) are named, with the params to change."""
    real = loop.predict

    def diverged(t, ds, idx):
        scores, labels = real(t, ds, idx)
        return torch.full_like(scores, float("nan")), labels

    monkeypatch.setattr(loop, "predict", diverged)
    with pytest.raises(
        ConfigError,
        match=r"val scores are not finite after epoch 1 .*lower "
        r"finetune\.lr",
    ) as err:
        run(tiny, "diverged")
    assert "\n" not in str(err.value)
