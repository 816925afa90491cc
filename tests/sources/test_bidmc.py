"""The third dataset, added as one module (ttmbio/sources/datasets/bidmc.py) plus params:
indexed, loaded, windowed, fine-tuned on and predicted from like the other two."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import wfdb

from tests.fixtures.bidmc import write_bidmc_folder, write_record
from tests.fixtures.pipeline import no_progress, tiny_params
from ttmbio.errors import CaseError, ConfigError, SourceError
from ttmbio.finetune import build, loop
from ttmbio.finetune.inference import load_finetuned, score_store
from ttmbio.params import Params
from ttmbio.predict.inputs import find_inputs
from ttmbio.predict.pipeline import run_predict
from ttmbio.sources import datasets
from ttmbio.sources.datasets.bidmc import channel_columns, comment_attrs, scan_wfdb_dir
from ttmbio.sources.registry import all_sources, source_of
from ttmbio.splits.file import build_split_file
from ttmbio.splits.schema import CaseRow
from ttmbio.synth.dataset import synthesize
from ttmbio.windows.build import build_windows
from ttmbio.windows.store import WindowStore


@pytest.fixture(scope="module")
def bidmc(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    folder = tmp_path_factory.mktemp("bidmc")
    return folder, write_bidmc_folder(folder, n_records=6, duration_s=90.0)


def params_for(tmp: Path, folder: Path) -> Params:
    return tiny_params(
        tmp,
        {
            "data": {"datasets": ["vitaldb", "bidmc"], "bidmc": {"path": str(folder)}},
            "splits": {"ratios": {"train": 0.5, "val": 0.25, "test": 0.25}},
            "finetune": {
                "task": "bidmc_hr",
                "init": "scratch",
                "head_epochs": 2,
                "unfreeze_epochs": 1,
                "batch_size": 8,
                "head": {"hidden_dims": [8]},
            },
        },
    )


def test_the_registry_finds_a_new_module_without_being_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert list(all_sources()) == ["vitaldb", "butppg", "bidmc"]
    with pytest.raises(ConfigError, match="no reader for dataset 'mimic'"):
        source_of("mimic")
    (tmp_path / "mimic.py").write_text(
        "from ttmbio.sources.datasets.bidmc import BidmcSource\n\n\n"
        "class MimicSource(BidmcSource):\n    name = 'mimic'\n\n\nSOURCE = MimicSource()\n"
    )
    monkeypatch.setattr(datasets, "__path__", [*datasets.__path__, str(tmp_path)])
    all_sources.cache_clear()
    try:
        assert list(all_sources()) == ["vitaldb", "butppg", "bidmc", "mimic"]
        assert source_of("mimic").name == "mimic"
        # without its data.mimic params section, predict's track lookup names what is missing
        with pytest.raises(ConfigError, match=r"no data\.mimic params section; add its section"):
            source_of("mimic").track_map(None)
    finally:
        all_sources.cache_clear()
        sys.modules.pop("ttmbio.sources.datasets.mimic", None)


def test_a_second_copy_of_a_record_is_skipped_naming_both_files(
    bidmc: tuple[Path, dict], tmp_path: Path
) -> None:
    folder = tmp_path / "bidmc"
    shutil.copytree(bidmc[0], folder)
    (folder / "copy").mkdir()
    for suffix in (".hea", ".dat"):
        shutil.copy(folder / f"bidmc01{suffix}", folder / "copy" / f"bidmc01{suffix}")
    params = Params.model_validate({"data": {"bidmc": {"path": str(folder)}}})
    index = scan_wfdb_dir(params.data.bidmc)
    assert [c.case_id for c in index.cases].count("bidmc01") == 1
    (skipped,) = index.skipped
    assert skipped.reason == (
        f"{folder / 'copy/bidmc01.hea'}: same record name as {folder / 'bidmc01.hea'}; "
        f"keep one copy under {folder}"
    )


def test_a_mixed_folder_lists_each_recording_once(
    bidmc: tuple[Path, dict], butppg_dir: Path, tmp_path: Path
) -> None:
    """A BUT-PPG record whose ECG signal is named like BIDMC's lead II stays one BUT-PPG
    recording: a file inside a recording found already is not another recording."""
    folder = tmp_path / "mixed"
    shutil.copytree(bidmc[0], folder / "bidmc")
    shutil.copytree(butppg_dir / "100001", folder / "100001")
    hea = folder / "100001" / "100001_ECG.hea"
    hea.write_text(hea.read_text().replace(" ECG\n", " II\n"))
    assert source_of("bidmc").claims(hea) is not None  # on its own, BIDMC would take it
    items = [(i.source, i.recording) for i in find_inputs(folder)]
    assert items.count(("butppg", "100001")) == 1
    assert not [i for i in items if i[1].startswith("100001_")]
    assert len(items) == 7


def test_non_finite_and_repeated_values_in_headers() -> None:
    assert comment_attrs(["<age>: inf <sex>: M"]) == {"age": None, "sex": "M"}
    assert channel_columns(["II,", "PLETH,", "II,"], {"ECG": ["II"]}, ["ECG"]) == ({"ECG": 0}, [])


def test_header_comments_become_case_attributes() -> None:
    attrs = comment_attrs(["<age>: 88 <sex>: F <location>: micu", "<weight>: NaN"])
    assert attrs == {"age": 88, "sex": "F", "location": "micu", "weight": None}


def test_index_lists_waveform_records_and_reports_broken_ones(
    bidmc: tuple[Path, dict], tmp_path: Path
) -> None:
    folder = tmp_path / "bidmc"
    shutil.copytree(bidmc[0], folder)
    write_record(folder, "bidmc07", 70.0, 30.0, 7, [], signals=("RESP,", "PLETH,", "V,"))
    (folder / "bidmc08.hea").write_text("bidmc08 x y\n")
    params = Params.model_validate({"data": {"bidmc": {"path": str(folder)}}})
    index = scan_wfdb_dir(params.data.bidmc)
    assert [c.case_id for c in index.cases] == [f"bidmc{i:02d}" for i in range(1, 7)]
    truth = bidmc[1]["bidmc03"]
    case = index.cases[2]
    assert case.subject_id == "bidmc03" and case.file == str(folder / "bidmc03.hea")
    assert (case.attrs["age"], case.attrs["sex"]) == (truth["age"], truth["sex"])
    reasons = {s.case_id: s.reason for s in index.skipped}
    assert set(reasons) == {"bidmc07", "bidmc08"}  # the numerics records are not listed
    assert "bidmc07.hea: missing required signal(s) (ECG: II)" in reasons["bidmc07"]
    assert "bidmc08.hea: not a readable WFDB header" in reasons["bidmc08"]


def test_a_missing_folder_is_one_line_naming_the_param(tmp_path: Path) -> None:
    params = Params.model_validate({"data": {"bidmc": {"path": str(tmp_path / "nope")}}})
    with pytest.raises(SourceError, match=r"BIDMC folder not found.*set data\.bidmc\.path"):
        source_of("bidmc").index(params)


def test_load_gives_the_mapped_signals_as_wfdb_reads_them(bidmc: tuple[Path, dict]) -> None:
    folder, _ = bidmc
    params = Params.model_validate({"data": {"bidmc": {"path": str(folder)}}})
    hea = str(folder / "bidmc02.hea")
    row = CaseRow(case_id="bidmc02", subject_id="bidmc02", file=hea, split="test")
    rec = source_of("bidmc").load(row, ["PPG", "ECG"], params)
    reference = wfdb.rdrecord(str(folder / "bidmc02"))
    names = [n.rstrip(",") for n in reference.sig_name]
    for channel, track in (("PPG", "PLETH"), ("ECG", "II")):
        assert rec.signals[channel].fs == 125.0
        np.testing.assert_allclose(
            rec.signals[channel].data, reference.p_signal[:, names.index(track)], rtol=1e-6
        )
    with pytest.raises(CaseError, match=r"bidmc02.hea: missing signal\(s\) for \['ABP'\]"):
        source_of("bidmc").load(row, ["PPG", "ABP"], params)


def test_predict_finds_records_but_not_numerics(bidmc: tuple[Path, dict]) -> None:
    folder, _ = bidmc
    items = find_inputs(folder)
    assert [(i.source, i.recording) for i in items] == [
        ("bidmc", f"bidmc{i:02d}") for i in range(1, 7)
    ]
    (item,) = find_inputs(folder / "bidmc04.hea")
    assert item.source == "bidmc" and item.path == folder / "bidmc04.hea"


def test_windows_finetune_and_predict_on_the_new_dataset(
    bidmc: tuple[Path, dict], tmp_path: Path
) -> None:
    # the PPG renamed in every header, mapped by data.bidmc.tracks: training and predict
    # must both find it by the configured name
    folder, truth = tmp_path / "bidmc", bidmc[1]
    shutil.copytree(bidmc[0], folder)
    for hea in folder.glob("*.hea"):
        hea.write_text(hea.read_text().replace(" PLETH,", " PPGFINGER,"))
    params = params_for(tmp_path, folder)
    tracks = {**params.data.bidmc.tracks, "PPG": ["PPGFINGER"]}
    params = params.model_copy(
        update={
            "data": params.data.model_copy(
                update={"bidmc": params.data.bidmc.model_copy(update={"tracks": tracks})}
            )
        }
    )
    synthesize(params.synth, tmp_path / "raw")
    doc, metrics = build_split_file(params)
    assert list(doc.datasets) == ["vitaldb", "bidmc"]
    assert sum(metrics["bidmc"][s]["cases"] for s in ("train", "val", "test")) == 6
    counts, _ = build_windows(params, doc, tmp_path / "windows", no_progress)
    assert sorted(p.name for p in (tmp_path / "windows").iterdir()) == ["bidmc", "vitaldb"]
    test_store = WindowStore(tmp_path / "windows" / "bidmc" / "test.zarr")
    assert counts["bidmc"]["test"]["windows"] == len(test_store) > 0
    for case_id, hr in zip(test_store.meta("case_id"), test_store.meta("hr_bpm"), strict=True):
        assert hr == pytest.approx(truth[case_id]["hr"], abs=3.0)  # labels from the ECG

    tuner = build.build_finetuner(params, tmp_path / "windows", tmp_path / "no-pretrain")
    summary = loop.run_finetuning(tuner, tmp_path / "work", tmp_path / "run", show_progress=False)
    assert summary is not None and summary.dataset == "bidmc" and summary.kind == "regression"

    case_id = str(test_store.meta("case_id")[0])
    (rec,) = run_predict(tmp_path / "run", folder / f"{case_id}.hea", None, False, "soft", 0.5).doc[
        "recordings"
    ]
    scored = score_store(load_finetuned(tmp_path / "run"), test_store.path)
    mine = scored["case_id"] == case_id
    ok = [w for w in rec["windows"] if w["status"] == "ok"]
    assert rec["status"] == "ok" and rec["source"] == "bidmc"
    np.testing.assert_allclose([w["value"] for w in ok], scored["score"][mine], atol=1e-4)
