"""Pretraining end to end on tiny window stores: learning, checkpoints, resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.fixtures.pipeline import build_tiny_pipeline, tiny_params
from ttmbio.errors import ConfigError, SourceError
from ttmbio.model.encoder import TTMEncoder
from ttmbio.params import Params
from ttmbio.ssl import pretrain as pt
from ttmbio.ssl.summary import read_pretrain_summary
from ttmbio.training.checkpoint import load_checkpoint
from ttmbio.training.distributed import DistInfo
from ttmbio.training.meta import check_compatible, encoder_meta

CPU = DistInfo(0, 1, torch.device("cpu"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Params]:
    tmp = tmp_path_factory.mktemp("pretrain")
    params, *_ = build_tiny_pipeline(tmp)
    return tmp, params


@pytest.fixture(scope="module")
def trained(tiny: tuple[Path, Params]) -> tuple[Path, dict]:
    tmp, params = tiny
    trainer = pt.build_pretrainer(params, tmp / "windows", CPU)
    summary = pt.run_pretraining(trainer, tmp / "work", tmp / "out", show_progress=False)
    return tmp / "out", summary


def test_run_writes_best_last_and_numbered_checkpoints(trained: tuple[Path, dict]) -> None:
    out, summary = trained
    assert sorted(p.name for p in out.glob("*.pt")) == ["best.pt", "epoch_002.pt", "last.pt"]
    assert (out / "summary.json").is_file() and (out / "history.json").is_file()
    assert summary.epochs == 3 and summary.channels == ["PPG", "ECG"]
    assert summary.val_nmse_interp > 0 and summary.world_size == 1
    assert read_pretrain_summary(out) == summary
    assert list((out.parent / "work").iterdir()) == []  # a finished run leaves no resume point


def test_checkpoint_round_trip_with_weights_only(trained: tuple[Path, dict]) -> None:
    out, _ = trained
    ckpt = load_checkpoint(out / "last.pt")
    assert set(ckpt) >= {
        "encoder",
        "decoder",
        "optimizer",
        "scheduler",
        "epoch",
        "config",
        "channels",
    }
    assert ckpt["epoch"] == 2 and ckpt["channels"] == ["PPG", "ECG"]
    encoder = TTMEncoder(Params.model_validate({"model": ckpt["config"]["model"]}).model)
    encoder.load_state_dict(ckpt["encoder"])
    for name, tensor in encoder.state_dict().items():
        assert torch.equal(tensor, ckpt["encoder"][name])


def test_checkpoint_for_another_context_is_refused(trained: tuple[Path, dict]) -> None:
    out, _ = trained
    path = out / "best.pt"
    ckpt = load_checkpoint(path)
    meta = encoder_meta(ckpt, path)
    other = meta.config.model.model_copy(update={"context_length": 512})
    with pytest.raises(ConfigError, match=r"model\.context_length=1024 but params say"):
        check_compatible(meta, path, other)
    other = meta.config.model.model_copy(update={"channels": ["PPG", "ECG", "ABP"]})
    with pytest.raises(ConfigError, match=r"model\.channels=\['PPG', 'ECG'\] but params say"):
        check_compatible(meta, path, other)
    with pytest.raises(SourceError, match="not a pretrained encoder checkpoint"):
        encoder_meta({"config": ckpt["config"]}, path)
    broken = {**ckpt, "config": {"model": {**ckpt["config"]["model"], "d_model": "wide"}}}
    with pytest.raises(SourceError, match=r"metadata this ttmbio cannot read \(config.model"):
        encoder_meta(broken, path)


def test_loss_goes_down(trained: tuple[Path, dict]) -> None:
    history = load_checkpoint(trained[0] / "last.pt")["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_spectrum_objective_is_trained_and_saved(trained: tuple[Path, dict]) -> None:
    ckpt = load_checkpoint(trained[0] / "last.pt")
    assert ckpt["config"]["pretrain"]["spectrum_weight"] > 0
    assert ckpt["spectrum"]["linear.weight"].shape == (24, 16)  # bands x d_model
    history = ckpt["history"]
    assert history[-1]["train_spectrum"] < history[0]["train_spectrum"]
    for row in history:  # the loss is its parts, weighted
        expected = row["train_msm"] + 0.3 * row["train_stft"] + 0.3 * row["train_spectrum"]
        assert row["train_loss"] == pytest.approx(expected, rel=1e-4)


def test_spectrum_off_trains_without_its_head(tiny: tuple[Path, Params]) -> None:
    tmp, _ = tiny
    (tmp / "off").mkdir()
    params = tiny_params(tmp / "off", {"pretrain": {"epochs": 2, "spectrum_weight": 0.0}})
    trainer = pt.build_pretrainer(params, tmp / "windows", CPU)
    assert trainer.model.spectrum is None
    summary = pt.run_pretraining(trainer, tmp / "work-off", tmp / "out-off", show_progress=False)
    history = load_checkpoint(tmp / "out-off/last.pt")["history"]
    assert summary.epochs == 2 and "train_spectrum" not in history[0]
    assert load_checkpoint(tmp / "out-off/last.pt")["spectrum"] is None


def test_resumed_run_ends_with_the_same_weights(
    tiny: tuple[Path, Params], trained: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp, params = tiny
    real = pt.train_epoch

    def interrupted(t: pt.Pretrainer, epoch: int, show: bool) -> dict[str, float]:
        if epoch == 2:
            raise KeyboardInterrupt  # killed during the last epoch
        return real(t, epoch, show)

    monkeypatch.setattr(pt, "train_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pt.run_pretraining(
            pt.build_pretrainer(params, tmp / "windows", CPU),
            tmp / "work2",
            tmp / "out2",
            show_progress=False,
        )
    assert not (tmp / "out2").exists()  # nothing DVC could take for a finished output
    monkeypatch.setattr(pt, "train_epoch", real)
    pt.run_pretraining(
        pt.build_pretrainer(params, tmp / "windows", CPU),
        tmp / "work2",
        tmp / "out2",
        show_progress=False,
    )
    resumed, straight = (
        load_checkpoint(tmp / "out2/last.pt"),
        load_checkpoint(trained[0] / "last.pt"),
    )
    for part in ("encoder", "decoder", "spectrum"):
        for name, tensor in straight[part].items():
            assert torch.equal(resumed[part][name], tensor), name


def test_stft_window_larger_than_the_window_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"n_fft=2048 is larger than the window"):
        tiny_params(
            tmp_path, {"pretrain": {"stft_resolutions": [{"n_fft": 2048, "hop_length": 512}]}}
        )


def test_pretrained_checkpoint_with_other_context_is_refused_before_training(
    tiny: tuple[Path, Params], tmp_path: Path
) -> None:
    from tsfm_public.models.tinytimemixer import TinyTimeMixerForPrediction

    from ttmbio.model.encoder import ttm_config

    tmp, params = tiny
    other = params.model.model_copy(update={"context_length": 512})
    TinyTimeMixerForPrediction(ttm_config(other)).save_pretrained(tmp_path / "ttm")
    bad = params.model_copy(
        update={"model": params.model.model_copy(update={"pretrained": str(tmp_path / "ttm")})}
    )
    with pytest.raises(ConfigError, match="context_length=512"):
        pt.build_pretrainer(bad, tmp / "windows", CPU)
    assert not (tmp_path / "out").exists()


def test_rerun_gives_byte_identical_checkpoints(
    tiny: tuple[Path, Params], trained: tuple[Path, dict]
) -> None:
    tmp, params = tiny
    pt.run_pretraining(
        pt.build_pretrainer(params, tmp / "windows", CPU),
        tmp / "work3",
        tmp / "out3",
        show_progress=False,
    )
    for name in ("best.pt", "last.pt", "summary.json", "history.json"):
        assert (tmp / "out3" / name).read_bytes() == (trained[0] / name).read_bytes(), name
