"""One reader for the typed files between stages: each problem is one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict

from ttmbio.errors import ConfigError, SourceError
from ttmbio.versioned import read_versioned


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["thing/1"]
    size: int


def read(path: Path, **kw: object) -> Thing:
    return read_versioned(path, Thing, "thing/1", "thing file", "ttmbio make", "not made", **kw)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", r"not JSON \(.*\); re-run `ttmbio make`"),
        ("[1]", r"not a JSON object \(a list\); re-run `ttmbio make`"),
        ('{"size": 1}', r"thing file format None \(written by another version of ttmbio\)"),
        (
            '{"format": "thing/2", "size": 1, "ttmbio_version": "9.9"}',
            r"thing file format 'thing/2' \(written by ttmbio 9.9\); this ttmbio reads "
            r"'thing/1': re-run `ttmbio make`",
        ),
        ('{"format": "thing/1", "size": "big"}', r"not a valid thing file \(size: Input should"),
    ],
)
def test_each_problem_is_one_line_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "thing.json"
    path.write_text(text)
    with pytest.raises(SourceError, match=message) as err:
        read(path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)
    with pytest.raises(ConfigError):  # the caller chooses the kind of error
        read(path, error=ConfigError)


def test_a_good_file_an_untagged_one_and_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "thing.json"
    path.write_text(json.dumps({"format": "thing/1", "size": 3}))
    assert read(path) == Thing(format="thing/1", size=3)
    path.write_text(json.dumps({"size": 4}))
    assert read(path, untagged_is_current=True).size == 4
    with pytest.raises(SourceError, match=r"nope.json: not made"):
        read(tmp_path / "nope.json")
