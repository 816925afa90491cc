"""Models and windows that do not fit each other, damaged window stores, and ``predict``
pointed at something that is not a recording.

Every case is refused by the real command with exit code 2 and one ``error:`` line naming
the checkpoint, store or input and what to do, and nothing is written: each command runs in
an empty folder (its default outputs would land there) reading the trained workspace.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fixtures.pipeline import tiny_params
from tests.reliability.conftest import TRAIN, data_paths
from tests.reliability.helpers import assert_ok, assert_refused, set_params, ttmbio
from ttmbio.training.checkpoint import load_checkpoint, save_checkpoint


def only_params(folder: Path) -> bool:
    """Nothing but the params file: the command wrote no output, not even a folder."""
    return sorted(p.name for p in folder.iterdir()) == ["params.yaml"]


def params_like(trained: Path, folder: Path, changes: dict | None = None) -> Path:
    """The trained workspace's params in ``folder``, with ``changes``."""
    shutil.copy(trained / "params.yaml", folder / "params.yaml")
    if changes:
        set_params(folder, changes)
    return folder


@pytest.fixture(scope="module")
def short_windows(raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Window stores of 512 samples, where the trained models read 1024."""
    ws = tmp_path_factory.mktemp("short")
    short = {"windows": {"length": 512}, "model": {"context_length": 512}}
    tiny_params(ws, {**data_paths(raw), **TRAIN, **short})
    assert_ok(ttmbio(ws, "splits"))
    assert_ok(ttmbio(ws, "windows"))
    return ws / "data/windows"


# ------------------------------------------------------------------ 13. checkpoint vs config


def test_finetune_refuses_a_model_pretrained_on_other_channels(
    trained: Path, tmp_path: Path
) -> None:
    params_like(trained, tmp_path, {"model": {"channels": ["PPG", "ECG", "ABP"]}})
    assert_refused(
        ttmbio(
            tmp_path,
            "finetune",
            "--windows",
            str(trained / "data/windows"),
            "--pretrained",
            str(trained / "models/pretrain"),
        ),
        f"{trained / 'models/pretrain/best.pt'}: trained with model.channels=['PPG', 'ECG'] "
        "but params say model.channels=['PPG', 'ECG', 'ABP']; re-run pretraining or restore",
    )
    assert only_params(tmp_path)


def test_finetune_refuses_a_model_pretrained_for_another_context(
    trained: Path, short_windows: Path, tmp_path: Path
) -> None:
    params_like(trained, tmp_path, {"windows": {"length": 512}, "model": {"context_length": 512}})
    assert_refused(
        ttmbio(
            tmp_path,
            "finetune",
            "--windows",
            str(short_windows),
            "--pretrained",
            str(trained / "models/pretrain"),
        ),
        f"{trained / 'models/pretrain/best.pt'}: trained with model.context_length=1024 but "
        "params say model.context_length=512",
    )
    assert only_params(tmp_path)


def test_finetune_refuses_a_finetuned_model_as_the_pretrained_one(
    trained: Path, tmp_path: Path
) -> None:
    params_like(trained, tmp_path)
    assert_refused(
        ttmbio(
            tmp_path,
            "finetune",
            "--windows",
            str(trained / "data/windows"),
            "--pretrained",
            str(trained / "models/finetune/run"),
        ),
        f"{trained / 'models/finetune/run/best.pt'}: not a pretrained encoder checkpoint; "
        "pass the folder written by `ttmbio pretrain`",
    )
    assert only_params(tmp_path)


@pytest.mark.parametrize("stage", ["pretrain", "finetune"])
def test_training_refuses_windows_of_another_length(
    trained: Path, short_windows: Path, tmp_path: Path, stage: str
) -> None:
    params_like(trained, tmp_path)
    extra = ["--init", "scratch"] if stage == "finetune" else []
    assert_refused(
        ttmbio(tmp_path, stage, "--windows", str(short_windows), *extra),
        "train.zarr: windows of 512 samples, but the model reads 1024 (model.context_length); "
        "re-run `ttmbio windows`",
    )
    assert only_params(tmp_path)


@pytest.mark.parametrize(("stage", "split"), [("calibrate", "val"), ("evaluate", "test")])
def test_garbled_run_scores_are_one_line_saying_to_refinetune(
    trained: Path, tmp_path: Path, stage: str, split: str
) -> None:
    """calibrate and evaluate read the scores the run wrote; a damaged file is refused."""
    models = tmp_path / "models"
    shutil.copytree(trained / "models/finetune", models)
    scores = models / "run" / f"{split}_scores.csv"
    scores.write_text(scores.read_text().replace(".", ",x", 3))
    run = tmp_path / "run"
    run.mkdir()
    params_like(trained, run)
    args = ["--models", str(models)]
    if stage == "evaluate":
        args += ["--calibrator", str(trained / "models/calibrate/calibrator.json")]
    assert_refused(ttmbio(run, stage, *args), f"{scores}: ", "re-run `ttmbio finetune`")
    assert only_params(run)


def test_predict_refuses_a_pretrained_model(trained: Path, raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    assert_refused(
        ttmbio(
            tmp_path,
            "predict",
            "--model",
            str(trained / "models/pretrain"),
            "--input",
            str(raw / "vitaldb/1.vital"),
            "--output",
            str(out),
        ),
        f"{trained / 'models/pretrain/best.pt'}: not a fine-tuned model (no task or head in "
        "it; a pretrained encoder?); pass a run folder written by `ttmbio finetune`",
    )
    assert not out.exists()


def test_predict_refuses_weights_that_do_not_fit_their_config(
    trained: Path, raw: Path, tmp_path: Path
) -> None:
    ckpt = load_checkpoint(trained / "models/finetune/run/best.pt")
    ckpt["config"]["model"]["d_model"] = 32
    save_checkpoint(tmp_path / "model/best.pt", ckpt)
    assert_refused(
        ttmbio(
            tmp_path,
            "predict",
            "--model",
            str(tmp_path / "model"),
            "--input",
            str(raw / "butppg/100001"),
        ),
        f"{tmp_path / 'model/best.pt'}: weights do not fit the config saved with them (",
        "re-run `ttmbio finetune`",
    )


# ------------------------------------------------------------------ 14. damaged window stores


def _shard(windows: Path, dataset: str, split: str) -> Path:
    """The first shard file of a store's signals."""
    return sorted((windows / dataset / f"{split}.zarr" / "signals").rglob("c/*/*/*"))[0]


def _garble_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 64] = b"\xab" * 64  # same size: only checksums see it
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(
    ("stage", "damage", "needles"),
    [
        (
            "pretrain",
            lambda w: _garble_middle(_shard(w, "vitaldb", "train")),
            [
                "vitaldb/train.zarr/signals: corrupt window store (ValueError: Stored and computed "
                "checksum do not match); re-create it"
            ],
        ),
        (
            "finetune",
            lambda w: _truncate(_shard(w, "butppg", "train")),
            ["butppg/train.zarr/signals: corrupt window store ("],
        ),
        (
            "finetune",
            lambda w: (w / "butppg/stats.json").write_text("{"),
            ["butppg/stats.json: not JSON (Expecting property name enclosed in double quotes"],
        ),
    ],
    ids=[
        "pretrain-garbled-shard",
        "finetune-truncated-shard",
        "finetune-bad-stats",
    ],
)
def test_a_damaged_store_is_one_line_saying_how_to_rebuild_it(
    trained: Path, tmp_path: Path, stage: str, damage, needles: list[str]
) -> None:
    windows = tmp_path / "windows"
    shutil.copytree(trained / "data/windows", windows)
    damage(windows)
    run = tmp_path / "run"
    run.mkdir()
    params_like(trained, run)
    args = ["--windows", str(windows)]
    if stage == "finetune":
        args += ["--pretrained", str(trained / "models/pretrain")]
    line = assert_refused(ttmbio(run, stage, *args), str(windows), *needles)
    assert line.endswith("re-create it with `dvc repro -f windows` (or `ttmbio windows`)")
    assert only_params(run)


# ------------------------------------------------------------------ 15. predict: wrong input


def _text(folder: Path) -> Path:
    (folder / "notes.txt").write_text("not a recording\n")
    return folder / "notes.txt"


def _csv(folder: Path) -> Path:
    (folder / "table.csv").write_text("time,ppg\n0,1.0\n")
    return folder / "table.csv"


def _folder_without_recordings(folder: Path) -> Path:
    (folder / "in").mkdir()
    _text(folder / "in")
    _csv(folder / "in")
    return folder / "in"


def _folder_of_broken_recordings(folder: Path) -> Path:
    (folder / "in").mkdir()
    (folder / "in/a.vital").write_text("not gzip\n")
    (folder / "in/b.vital").write_bytes(b"\x1f\x8b\x08\x00")
    return folder / "in"


@pytest.mark.parametrize(
    ("make", "needles"),
    [
        (
            _text,
            [
                "notes.txt: not a recording ttmbio can read; pass a .vital file, a BUT-PPG "
                "record (<id>/<id>_PPG.hea) or a WFDB record with PLETH/II signals (<name>.hea, "
                "as BIDMC's), or a folder of them"
            ],
        ),
        (_csv, ["table.csv: not a recording ttmbio can read; pass a .vital file"]),
        (_folder_without_recordings, ["in: no recordings found; pass a .vital file"]),
        (
            _folder_of_broken_recordings,
            [
                "in: none of its 2 recordings could be read; first: ",
                "a.vital: not a readable .vital file (",
            ],
        ),
    ],
    ids=["text-file", "csv-file", "folder-without-recordings", "folder-of-broken-files"],
)
def test_predict_refuses_input_of_the_wrong_kind(
    trained: Path, tmp_path: Path, make, needles: list[str]
) -> None:
    path = make(tmp_path)
    out = tmp_path / "predictions.csv"
    outcome = ttmbio(
        tmp_path,
        "predict",
        "--model",
        str(trained / "models/finetune/run"),
        "--input",
        str(path),
        "--output",
        str(out),
    )
    line = assert_refused(outcome, f"error: {path}", *needles)
    assert outcome.stdout == "" and not out.exists()
    assert line.count(str(path)) >= 1
