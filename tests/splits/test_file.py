from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.fixtures.files import make_butppg_dir, make_vital_dir, standard_tracks, write_vital
from tests.sources.test_vitaldb_api import FakeApi, fake_api  # noqa: F401 - fixture
from ttmbio.errors import SourceError
from ttmbio.params import Params, load_params
from ttmbio.sources.datasets.vitaldb import index_vitaldb
from ttmbio.splits.file import build_split_file, write_split_file
from ttmbio.splits.schema import FORMAT, SplitFile, read_split_file


def params_for(tmp_path: Path, **splits: object) -> Params:
    vital = make_vital_dir(tmp_path / "vitaldb", n_cases=8, subjects=[1, 1, 2, 3, 4, 5, 6, 7])
    butppg = make_butppg_dir(tmp_path / "butppg", subjects=5, per_subject=2)
    doc = {
        "data": {
            "vitaldb": {"path": str(vital), "clinical_csv": str(vital / "cases.csv")},
            "butppg": {"path": str(butppg)},
        },
        "splits": splits,
    }
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_params(path)


def test_split_file_assigns_every_case_once_by_subject(tmp_path: Path) -> None:
    doc, metrics = build_split_file(params_for(tmp_path))
    vital = doc.datasets["vitaldb"].cases
    assert len(vital) == 8
    split_of_subject = {}
    for row in vital:
        assert split_of_subject.setdefault(row.subject_id, row.split) == row.split
    assert (
        metrics["vitaldb"]["train"]["cases"]
        + metrics["vitaldb"]["val"]["cases"]
        + metrics["vitaldb"]["test"]["cases"]
        == 8
    )
    assert metrics["butppg"]["skipped"] == 0
    assert doc.params["seed"] == 42 and doc.format == "ttmbio.splits/1"
    assert doc.datasets["vitaldb"].source["path"] == str(tmp_path / "vitaldb")
    assert {r.case_id for r in doc.datasets["butppg"].in_split("train")}


def test_bad_cases_are_skipped_and_reported_not_fatal(tmp_path: Path) -> None:
    params = params_for(tmp_path)
    folder = params.data.vitaldb.path
    (folder / "20.vital").write_bytes((folder / "1.vital").read_bytes()[:500])
    doc, metrics = build_split_file(params)
    assert metrics["vitaldb"]["skipped"] == 1
    assert doc.datasets["vitaldb"].skipped[0].case_id == "20"
    assert len(doc.datasets["vitaldb"].cases) == 8


def test_case_set_keeps_only_cases_with_its_tracks(tmp_path: Path) -> None:
    params = params_for(tmp_path, vitaldb={"case_set": "bis"})
    folder = params.data.vitaldb.path
    write_vital(folder / "9.vital", standard_tracks(), numerics={"BIS/BIS": 45.0})
    write_vital(folder / "10.vital", standard_tracks(), numerics={"BIS/BIS": 50.0})
    doc, metrics = build_split_file(params)
    assert sorted(r.case_id for r in doc.datasets["vitaldb"].cases) == ["10", "9"]
    assert metrics["vitaldb"]["excluded_by_case_set"] == 8


def test_folds_cover_train_and_val_only(tmp_path: Path) -> None:
    doc, metrics = build_split_file(params_for(tmp_path, folds=[0, 1]))
    for row in doc.datasets["butppg"].cases:
        assert (row.fold is None) == (row.split == "test")
    assert sum(metrics["butppg"]["folds"].values()) == 10 - metrics["butppg"]["test"]["cases"]


def test_no_usable_case_is_a_source_error(tmp_path: Path) -> None:
    params = params_for(tmp_path, vitaldb={"case_set": "bis"})
    with pytest.raises(SourceError, match="no usable vitaldb cases"):
        build_split_file(params)


def test_api_source_indexes_through_the_same_rules(
    tmp_path: Path,
    fake_api: FakeApi,  # noqa: F811
) -> None:
    params = load_params(_api_params(tmp_path, fake_api.url))
    index = index_vitaldb(params.data.vitaldb)
    assert [c.case_id for c in index.cases] == ["1", "2", "3"]
    assert [s.case_id for s in index.skipped] == ["4"]
    assert index.cases[0].subject_id == "5955"
    assert index.cases[0].file == f"{fake_api.url}/1.0.1/1.vital"
    assert fake_api.requests == ["/cases", "/trks"]


def _api_params(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "data": {
                    "vitaldb": {
                        "source": "vitaldb_api",
                        "api_url": url,
                        "cache_dir": str(tmp_path / "cache"),
                        "tracks": {"ECG": ["SNUADC/ECG_II"]},
                        "required_channels": ["ECG"],
                    }
                },
                "windows": {
                    "vitaldb": {"channels": ["ECG"], "stride": 512, "gates": ["gap", "ecg_sqi"]}
                },
                "model": {"channels": ["ECG"]},
            }
        )
    )
    return path


def test_written_split_file_reads_back_as_the_same_typed_document(tmp_path: Path) -> None:
    params = params_for(tmp_path, folds=[0, 1])
    report = write_split_file(params, tmp_path / "splits.json", tmp_path / "metrics.json")
    doc = read_split_file(report.split_file)
    assert doc == build_split_file(params)[0]
    assert isinstance(doc, SplitFile) and doc.format == FORMAT
    assert json.loads((tmp_path / "metrics.json").read_text()) == report.metrics
    assert report.metrics["vitaldb"]["train"]["cases"] == len(
        doc.datasets["vitaldb"].in_split("train")
    )
    # sorted keys, one trailing newline: the same content gives the same bytes (DVC hashes)
    text = (tmp_path / "splits.json").read_text()
    assert text == json.dumps(doc.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"format": "ttmbio.splits/2", "ttmbio_version": "9.0"},
            r"split file format 'ttmbio.splits/2' \(written by ttmbio 9.0\); this ttmbio "
            r"reads 'ttmbio.splits/1': re-run `ttmbio splits`",
        ),
        ({"format": None}, r"split file format None .*re-run `ttmbio splits`"),
        ({"datasets": {"vitaldb": {"cases": []}}}, r"datasets.vitaldb.source: Field required"),
        ({"surprise": 1}, r"not a valid split file \(surprise: Extra inputs"),
    ],
)
def test_a_split_file_of_another_version_or_shape_is_one_line(
    tmp_path: Path, change: dict, message: str
) -> None:
    params = params_for(tmp_path)
    path = write_split_file(params, tmp_path / "splits.json", tmp_path / "m.json").split_file
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(SourceError, match=message) as err:
        read_split_file(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def test_a_row_with_an_unknown_split_is_refused(tmp_path: Path) -> None:
    path = write_split_file(
        params_for(tmp_path), tmp_path / "s.json", tmp_path / "m.json"
    ).split_file
    doc = json.loads(path.read_text())
    doc["datasets"]["butppg"]["cases"][0]["split"] = "training"
    path.write_text(json.dumps(doc))
    with pytest.raises(SourceError, match=r"datasets.butppg.cases.0.split: Input should be"):
        read_split_file(path)
    path.write_text("{")
    with pytest.raises(SourceError, match=r"s.json: not JSON"):
        read_split_file(path)
    path.write_text("[]")
    with pytest.raises(SourceError, match=r"s.json: not a JSON object \(a list\)"):
        read_split_file(path)
