"""What ``pip install`` puts on the path: every ttmbio package, and the CLI under its own
name (``ttmbio_stages``, from the folder ``stages/``), never a generic top-level ``stages``."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _setuptools() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_of_the_tree_is_installed() -> None:
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "ttmbio").rglob("__init__.py")
    }
    assert set(_setuptools()["packages"]) == on_disk | {"ttmbio_stages"}


def test_the_cli_is_installed_as_ttmbio_stages(tmp_path: Path) -> None:
    doc = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert doc["project"]["scripts"] == {"ttmbio": "ttmbio_stages.cli:main"}
    assert _setuptools()["package-dir"] == {"ttmbio_stages": "stages"}
    # outside the repository (no folder on the path): the install provides ttmbio_stages,
    # from stages/, and no top-level `stages`
    code = (
        "import importlib.util, ttmbio_stages.cli as cli; print(cli.__file__); "
        "print(importlib.util.find_spec('stages'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.split()
    assert Path(out[0]).resolve() == REPO / "stages" / "cli.py"
    assert out[1] == "None"


def test_dvc_parses_yaml_with_the_c_parser() -> None:
    """The install brings ruamel.yaml's C parser: DVC's safe loads (params.yaml once per stage
    in every command, dvc.yaml, dvc.lock) otherwise take the pure-Python one, which made a
    no-op ``dvc repro`` of the default pipeline 9.7 s instead of 7.2 s."""
    from ruamel.yaml import YAML  # DVC loads with YAML(typ="safe")
    from ruamel.yaml.main import CParser

    assert CParser is not None, "pip install ruamel.yaml.clib (pinned in constraints.txt)"
    assert YAML(typ="safe").Parser is CParser
    assert YAML(typ="safe").load("a: [1, 2]") == {"a": [1, 2]}
