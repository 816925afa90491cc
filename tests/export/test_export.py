"""Exported models: the encoder as a granite-tsfm folder, a fine-tuned model as a folder that
predict reads, ONNX parity with torch, and model cards that huggingface_hub parses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard
from tsfm_public.models.tinytimemixer.modeling_tinytimemixer import TinyTimeMixerModel
from typer.testing import CliRunner

import ttmbio
from tests.finetune.test_finetune import run, tiny  # noqa: F401 - module fixture
from ttmbio.bench.onnx import onnx_rates
from ttmbio.calibration.calibrator import Calibrator
from ttmbio.errors import ConfigError, SourceError
from ttmbio.export.classifier import export_model, load_exported
from ttmbio.export.encoder import export_encoder
from ttmbio.export.onnx import PROBABILITY, SCORE, CalibrationMap, OnnxScorer
from ttmbio.finetune import build
from ttmbio.finetune.inference import LoadedModel, load_finetuned
from ttmbio.finetune.scores import model_digest
from ttmbio.model.encoder import TTMEncoder, load_pretrained
from ttmbio.model.hf_encoder import load_encoder_folder
from ttmbio.params import Params
from ttmbio.predict.pipeline import run_predict
from ttmbio.splits.file import write_split_file
from ttmbio.training.checkpoint import load_checkpoint
from ttmbio.windows.dataset import WindowDataset
from ttmbio_stages.cli import app

Tiny = tuple[Path, Params]


def butppg_record(tmp: Path) -> Path:
    """A raw BUT-PPG record of the tiny dataset (its folder)."""
    return next((tmp / "raw" / "butppg").glob("*/*_PPG.hea")).parent


def windows(store: Path, loaded: LoadedModel) -> torch.Tensor:
    """Every normalised window of ``store``, in the model's channels."""
    ds = WindowDataset(store, loaded.channels)
    return ds.__getitems__(list(range(len(ds))))["x"]


@pytest.fixture(scope="module")
def split_file(tiny: Tiny) -> Path:  # noqa: F811
    """The tiny split file on disk (its datasets made by synth: marked synthetic)."""
    tmp, params = tiny
    write_split_file(params, tmp / "splits.json", tmp / "splits_metrics.json")
    return tmp / "splits.json"


@pytest.fixture(scope="module")
def encoder_folder(tiny: Tiny, split_file: Path) -> Path:  # noqa: F811
    tmp, _ = tiny
    export_encoder(tmp / "pretrain", tmp / "export" / "encoder", tmp / "splits.json")
    return tmp / "export" / "encoder"


@pytest.fixture(scope="module")
def exported(tiny: Tiny, split_file: Path) -> dict[str, Path]:  # noqa: F811
    """A fine-tuned BUT-PPG quality run, its calibrator (temperature) and its export."""
    tmp, _ = tiny
    run_dir, _ = run(tiny, "export-quality")
    calibrator = tmp / "calibrator.json"
    fitted = Calibrator("temperature", {"temperature": 1.7})
    calibrator.write_text(json.dumps({**fitted.to_json(), "model_sha256": model_digest(run_dir)}))
    metrics = tmp / "evaluate.json"
    metrics.write_text(
        json.dumps(
            {
                "windows": {
                    "auroc": 0.75,
                    "auroc_ci_low": 0.6,
                    "auroc_ci_high": 0.9,
                    "auprc": 0.7,
                    "n": 40,
                    "n_units": 5,
                    "bootstrap_unit": "subject",
                }
            }
        )
    )
    out = tmp / "export" / "quality"
    export_model(run_dir, out, calibrator, metrics, tmp / "splits.json")
    return {"run": run_dir, "calibrator": calibrator, "out": out}


def test_the_encoder_loads_in_granite_tsfm_with_identical_latents(
    tiny: Tiny,  # noqa: F811
    encoder_folder: Path,
) -> None:
    tmp, _ = tiny
    ckpt = load_checkpoint(tmp / "pretrain" / "best.pt")
    ours = TTMEncoder(load_encoder_folder(encoder_folder)[1].model, ckpt["channels"])
    ours.load_state_dict(ckpt["encoder"])
    theirs = TinyTimeMixerModel.from_pretrained(encoder_folder)
    x = torch.randn(3, len(ckpt["channels"]), ours.cfg.context_length)
    with torch.no_grad():
        expected = ours.eval()(x)
        got = theirs.eval()(past_values=x.transpose(1, 2)).last_hidden_state
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert sorted(p.name for p in encoder_folder.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]


def test_fine_tuning_from_the_encoder_folder_starts_from_the_same_weights(
    tiny: Tiny,  # noqa: F811
    encoder_folder: Path,
) -> None:
    tmp, params = tiny
    from_run = build.build_model(params, tmp / "pretrain").state_dict()
    from_folder = build.build_model(params, encoder_folder).state_dict()
    assert from_run.keys() == from_folder.keys()
    for key, value in from_run.items():
        torch.testing.assert_close(from_folder[key], value, rtol=0, atol=0, msg=key)


def test_model_pretrained_accepts_the_encoder_folder(
    tiny: Tiny,  # noqa: F811
    encoder_folder: Path,
) -> None:
    tmp, params = tiny
    encoder = TTMEncoder(params.model)
    load_pretrained(encoder, str(encoder_folder))
    saved = load_checkpoint(tmp / "pretrain" / "best.pt")["encoder"]
    for key, value in encoder.state_dict().items():
        torch.testing.assert_close(value, saved[key], rtol=0, atol=0, msg=key)


def test_the_encoder_card_parses_and_says_synthetic(encoder_folder: Path) -> None:
    card = ModelCard.load(encoder_folder / "README.md")
    assert card.data.library_name == "ttmbio" and "self-supervised" in card.data.tags
    assert "Trained on synthetic data" in card.text and "vitaldb" in card.text


def test_the_exported_model_predicts_the_run_folders_probabilities(
    tiny: Tiny,  # noqa: F811
    exported: dict[str, Path],
) -> None:
    tmp, _ = tiny
    record = butppg_record(tmp)
    from_run = run_predict(exported["run"], record, exported["calibrator"], True, "soft", 0.5)
    from_folder = run_predict(exported["out"], record, None, False, "soft", 0.5)
    assert from_folder.doc["calibration"].startswith("temperature")
    a, b = from_run.doc["recordings"][0], from_folder.doc["recordings"][0]
    assert a["status"] == b["status"] == "ok"
    assert [w["probability"] for w in b["windows"]] == [w["probability"] for w in a["windows"]]
    assert b["probability"] == a["probability"]


def test_onnx_matches_torch_on_the_test_windows(
    tiny: Tiny,  # noqa: F811
    exported: dict[str, Path],
) -> None:
    tmp, _ = tiny
    loaded = load_exported(exported["out"])
    x = torch.cat(  # the test windows, and more of the same kind
        [
            windows(tmp / "windows" / "butppg" / f"{split}.zarr", loaded)
            for split in ("test", "train")
        ]
    )
    torch_p = loaded.score(x).numpy()
    out = OnnxScorer(exported["out"] / "model.onnx").run(x.numpy())
    assert len(x) > 20 and np.abs(out[SCORE] - torch_p).max() <= 1e-4
    calibrated = Calibrator("temperature", {"temperature": 1.7}).apply(torch_p)
    assert np.abs(out[PROBABILITY] - calibrated).max() <= 1e-4
    # no source paths in the graph: another checkout exports the same bytes
    assert (
        str(Path(ttmbio.__file__).parent).encode()
        not in (exported["out"] / "model.onnx").read_bytes()
    )


def test_predict_with_the_onnx_runtime_gives_the_torch_probabilities(
    tiny: Tiny,  # noqa: F811
    exported: dict[str, Path],
) -> None:
    tmp, _ = tiny
    record = butppg_record(tmp)
    torch_doc = run_predict(exported["out"], record, None, False, "soft", 0.5).doc
    onnx_doc = run_predict(exported["out"], record, None, False, "soft", 0.5, runtime="onnx").doc
    a = [w["probability"] for w in torch_doc["recordings"][0]["windows"]]
    b = [w["probability"] for w in onnx_doc["recordings"][0]["windows"]]
    assert len(a) > 0 and np.abs(np.array(a) - np.array(b)).max() <= 1e-4


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("temperature", {"temperature": 0.6}),
        ("platt", {"a": 1.3, "b": -0.4}),
        ("isotonic", {"x": [0.0, 0.2, 0.2, 0.5, 0.9], "y": [0.0, 0.1, 0.3, 0.35, 1.0]}),
    ],
)
def test_the_calibration_graph_is_the_calibrator(method: str, params: dict) -> None:
    calibrator = Calibrator(method, params)
    p = np.concatenate([np.linspace(0, 1, 2001), np.random.default_rng(0).random(500)])
    got = CalibrationMap(calibrator)(torch.tensor(p, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got, calibrator.apply(p.astype(np.float32)), atol=1e-5)


def test_the_model_card_parses_with_the_metrics_and_the_synthetic_warning(
    exported: dict[str, Path],
) -> None:
    card = ModelCard.load(exported["out"] / "README.md")
    assert card.data.library_name == "ttmbio" and card.data.license == "apache-2.0"
    (auroc,) = [r for r in card.data.eval_results if r.metric_type == "roc_auc"]
    assert auroc.metric_value == 0.75
    assert "| auroc per window | 0.750 | [0.600, 0.900] |" in card.text
    assert "Trained and evaluated on synthetic data" in card.text


def test_bad_paths_are_one_line_naming_them(exported: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope/best.pt: no fine-tuned model here"):
        export_model(tmp_path / "nope", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    broken = tmp_path / "broken"
    shutil.copytree(exported["out"], broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(SourceError, match=r"broken/model.safetensors: missing"):
        load_exported(broken)
    (broken / "model.onnx").unlink()
    (broken / "calibrator.json").unlink()
    shutil.copy(exported["out"] / "model.safetensors", broken / "model.safetensors")
    with pytest.raises(SourceError, match=r"broken/calibrator.json: missing \(its calibrator\)"):
        run_predict(broken, broken, None, False, "soft", 0.5)
    shutil.copy(exported["out"] / "calibrator.json", broken / "calibrator.json")
    shutil.copy(exported["out"] / "model.safetensors", broken / "model.safetensors")
    with pytest.raises(SourceError, match=r"broken/model.onnx"):
        run_predict(broken, broken, None, False, "soft", 0.5, runtime="onnx")
    other = tmp_path / "other.json"
    other.write_text(
        json.dumps(
            {**Calibrator("platt", {"a": 1.0, "b": 0.0}).to_json(), "model_sha256": "0" * 64}
        )
    )
    with pytest.raises(ConfigError, match="other weights"):
        export_model(exported["run"], tmp_path / "out2", other)
    assert load_finetuned(exported["run"]).digest == load_exported(exported["out"]).digest


def test_the_bench_reports_onnx_beside_torch(
    tiny: Tiny,  # noqa: F811
    exported: dict[str, Path],
) -> None:
    """Every figure measured (no speed asserted: shared machines)."""
    tmp, _ = tiny
    windows = tmp / "windows" / "butppg"
    report = onnx_rates(
        load_finetuned(exported["run"]), windows / "train.zarr", windows / "test.zarr", 1, 3
    )
    for key in ("torch_windows_per_s", "onnx_windows_per_s", "torch_latency_ms", "onnx_latency_ms"):
        assert report[key] > 0, key
    assert 0 < report["int8_mb"] < report["fp32_mb"] and report["batch_size"] == 256
    assert 0 <= report["auroc_int8"] <= 1 and 0 <= report["auroc_fp32"] <= 1


def test_the_cli_exports_several_runs_in_one_call(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    args = ["export", "model", "--no-onnx", "--splits", str(tmp_path / "absent.json")]
    for name in ("a", "b"):
        args += ["--run", str(exported["run"]), "--out", str(tmp_path / name)]
        args += ["--calibrator", str(exported["calibrator"]), "--metrics", "none"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "absent.json not found: the model card will not say" in result.output
    for name in ("a", "b"):
        assert (tmp_path / name / "calibrator.json").is_file()
        assert not (tmp_path / name / "model.onnx").exists()
        assert "Training data\n\nnot recorded" in (tmp_path / name / "README.md").read_text()
    runs = ["--run", str(exported["run"])] * 2
    outs = [x for name in "cde" for x in ("--out", str(tmp_path / name))]
    short = CliRunner().invoke(app, ["export", "model", "--no-onnx", *runs, *outs])
    assert short.exit_code == 2 and "--out: give one per --run (2), got 3" in short.output
    assert not (tmp_path / "c").exists()


def test_fine_tuning_refuses_a_model_export_as_its_encoder(
    tiny: Tiny,  # noqa: F811
    exported: dict[str, Path],
) -> None:
    _, params = tiny
    with pytest.raises(SourceError, match="an exported fine-tuned model, not an encoder"):
        build.build_model(params, exported["out"])


def test_a_regression_model_and_an_isotonic_calibrator_export_with_parity(
    tiny: Tiny,  # noqa: F811
    exported: dict[str, Path],
    tmp_path: Path,
) -> None:
    tmp, _ = tiny
    mean_pressure, _ = run(tiny, "export-map", task="vitaldb_map")
    export_model(mean_pressure, tmp_path / "map")
    loaded = load_exported(tmp_path / "map")
    x = windows(tmp / "windows" / "vitaldb" / "test.zarr", loaded)
    out = OnnxScorer(tmp_path / "map" / "model.onnx").run(x.numpy())
    assert set(out) == {SCORE} and np.abs(out[SCORE] - loaded.score(x).numpy()).max() <= 1e-4
    isotonic = Calibrator(
        "isotonic", {"x": [0.0, 0.3, 0.3, 0.6, 1.0], "y": [0.0, 0.2, 0.4, 0.5, 1.0]}
    )
    calibrator = tmp_path / "isotonic.json"
    digest = model_digest(exported["run"])
    calibrator.write_text(json.dumps({**isotonic.to_json(), "model_sha256": digest}))
    export_model(exported["run"], tmp_path / "iso", calibrator)
    quality = load_exported(tmp_path / "iso")
    x = windows(tmp / "windows" / "butppg" / "test.zarr", quality)
    got = OnnxScorer(tmp_path / "iso" / "model.onnx").run(x.numpy())[PROBABILITY]
    assert np.abs(got - isotonic.apply(quality.score(x).numpy())).max() <= 1e-4


def test_missing_metrics_and_a_corrupt_graph_are_one_line(
    exported: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(SourceError, match=r"absent.json: not found; pass the model's"):
        export_model(exported["run"], tmp_path / "out", metrics=tmp_path / "absent.json")
    assert not (tmp_path / "out").exists()
    (tmp_path / "bad.onnx").write_bytes(b"not a graph")
    with pytest.raises(SourceError, match=r"bad.onnx: not a model onnxruntime can load"):
        OnnxScorer(tmp_path / "bad.onnx")
