"""Stage deps follow the code: every project file a stage's command imports is a dep of it.

The import closure of each stage is derived statically (:mod:`tests.depgraph`); a stage that
misses one would not rerun when that file changes, and ``dvc repro`` would keep stale outputs.
"""

from __future__ import annotations

import ast
import copy
import json
import sys
from pathlib import Path

import pytest
import yaml

from tests import depgraph
from tests.stages.repo import copy_repo, dvc, run

PROBED = "ttmbio/windows/dataset.py"  # the file the temporary-copy test edits


@pytest.fixture(scope="module")
def document() -> dict:
    return depgraph.load_dvc_yaml()


@pytest.fixture(scope="module")
def params() -> dict:
    return depgraph.load_params()


def _is_code(dep: str) -> bool:
    return dep.split("/")[0] in set(depgraph.PACKAGES.values())  # ttmbio/ and stages/


def _code_deps(stage: dict, params: dict) -> list[str]:
    return [d for d in depgraph.stage_deps(stage, params) if _is_code(d)]


def test_every_stage_maps_to_a_command(document: dict) -> None:
    for name, stage in document["stages"].items():
        rel, _ = depgraph.stage_command(stage.get("do", stage)["cmd"])
        assert rel.startswith("stages/"), (name, rel)


def test_every_stage_lists_the_code_it_imports(document: dict) -> None:
    missing = depgraph.missing_deps(document)
    assert not missing, "dvc.yaml deps miss code:\n" + depgraph.format_missing(missing)


def test_every_stage_lists_its_own_command_module(document: dict, params: dict) -> None:
    for name, stage in document["stages"].items():
        rel, _ = depgraph.stage_command(stage.get("do", stage)["cmd"])
        assert rel in depgraph.stage_deps(stage, params), f"{name}: {rel} is not a dep"


def test_no_code_dep_is_stale(document: dict, params: dict) -> None:
    """A code dep that covers nothing the command imports only causes needless reruns."""
    stale = [
        (name, dep)
        for name, stage in document["stages"].items()
        for dep in _code_deps(stage, params)
        if not any(
            depgraph.covers(dep, f) for f in depgraph.stage_closure(stage.get("do", stage)["cmd"])
        )
    ]
    assert not stale, f"code deps no command imports: {stale}"


@pytest.mark.parametrize(
    ("stage", "dep"),
    [
        ("finetune", "ttmbio/windows/dataset.py"),
        ("finetune", "stages/finetune.py"),
        ("finetune", "ttmbio/model"),
        ("cv-fold", "ttmbio/evaluation/metrics.py"),
        ("forecast-evaluate", "ttmbio/forecast/model.py"),
    ],
)
def test_a_dropped_dep_is_reported(document: dict, stage: str, dep: str) -> None:
    doc = copy.deepcopy(document)
    deps = doc["stages"][stage]["deps"]
    assert dep in deps
    deps.remove(dep)
    missing = depgraph.missing_deps(doc)
    assert list(missing) == [stage]  # the other stages are untouched
    assert missing[stage] and all(depgraph.covers(dep, f) for f in missing[stage])
    if dep.endswith(".py"):
        assert missing[stage] == [dep]
    message = depgraph.format_missing(missing)
    assert repr(stage) in message and all(f in message for f in missing[stage])


def test_the_import_rules() -> None:
    closure = depgraph.command_closure("stages/forecast.py", "evaluate")
    assert "ttmbio/forecast/model.py" in closure  # imported inside the function body
    assert "stages/common.py" in closure  # a top-level import of the stage module
    assert "stages/cli.py" not in closure  # the dispatcher is never a dep
    assert "ttmbio/__init__.py" not in closure  # docstring and __version__ only
    # `data` is a parameter of `train`, not the `data` command of the same module
    assert "ttmbio/forecast/synth.py" not in depgraph.command_closure("stages/forecast.py", "train")
    # a package __init__ with code runs on any import below it, and its imports are followed
    synth = depgraph.command_closure("stages/synth.py", "synth")
    assert {"ttmbio/params/__init__.py", "ttmbio/params/forecast.py"} <= synth
    # relative imports, submodules imported by `from package import module`, third party
    tree = ast.parse(
        "from . import store\nfrom ..model import heads\nimport ttmbio.signal.peaks\n"
        "from ttmbio.windows.recipe import recipe_of\nimport numpy\n"
    )
    assert depgraph._files_imported_by("ttmbio/windows/dataset.py", tree) == {
        "ttmbio/__init__.py",
        "ttmbio/windows/__init__.py",
        "ttmbio/windows/store.py",
        "ttmbio/model/__init__.py",
        "ttmbio/model/heads.py",
        "ttmbio/signal/__init__.py",
        "ttmbio/signal/peaks.py",
        "ttmbio/windows/recipe.py",
    }


def test_stage_closures_stay_apart(document: dict, params: dict) -> None:
    """Minimality guard: the biosignal and glucose pipelines share no model or window code."""

    def touches(deps: list[str], area: str) -> list[str]:
        return [d for d in deps if depgraph.covers(d, area) or depgraph.covers(area, d)]

    stages = document["stages"]
    windows = stages["windows"]
    assert not touches(depgraph.stage_deps(windows, params), "ttmbio/forecast")
    assert not touches(sorted(depgraph.stage_closure(windows["cmd"])), "ttmbio/forecast")
    forecast = [name for name in stages if name.startswith("forecast-")]
    assert len(forecast) == 4
    for name in forecast:
        closure = sorted(depgraph.stage_closure(stages[name]["cmd"]))
        for area in ("ttmbio/windows", "ttmbio/model"):
            assert not touches(depgraph.stage_deps(stages[name], params), area), (name, area)
            assert not touches(closure, area), (name, area)
    data = depgraph.stage_closure(stages["forecast-data"]["cmd"])
    assert "ttmbio/forecast/model.py" not in data  # other commands of stages/forecast.py


# DVC's `commit --force` without the run cache, tolerating the outputs a fresh copy lacks, and
# writing dvc.lock once: the lock then records the hashes of the copy's own code, so that only
# the probe edit below changes a code dep.
LOCK_THE_CODE = """
from dvc.repo import Repo
from dvc.stage.serialize import to_lockfile
from dvc.utils.serialize import dump_yaml

repo = Repo(".")
with repo.lock:
    stages = {}
    for stage in repo.index.stages:
        stage.save(allow_missing=True, run_cache=False)
        stages.update(to_lockfile(stage))
    dump_yaml("dvc.lock", {"schema": "2.0", "stages": stages})
"""


def _changed_deps(entries: list) -> dict:
    """``dvc status --json`` entries of one stage -> its ``changed deps`` mapping."""
    found: dict = {}
    for entry in entries:
        if isinstance(entry, dict):
            found.update(entry.get("changed deps", {}))
    return found


def _status(repo: Path) -> dict[str, dict]:
    status = json.loads(dvc(repo, "status", "--json").stdout)
    return {name: _changed_deps(entries) for name, entries in status.items()}


@pytest.mark.slow
def test_editing_a_library_file_reruns_exactly_its_stages(tmp_path: Path, document: dict) -> None:
    """In a throwaway copy whose dvc.lock records its code: a semantic edit of one library file
    shows as a modified dep of exactly the stages whose deps cover it, every matrix entry too."""
    importers = {
        name
        for name, stage in document["stages"].items()
        if PROBED in depgraph.stage_closure(stage.get("do", stage)["cmd"])
    }
    assert {"pretrain", "finetune", "finetune-hypotension"} <= importers
    # they read the scores each fine-tuning run wrote: no window store, no model
    assert not {"calibrate", "evaluate", "label-efficiency"} & importers
    expected = set(depgraph.stages_covering(PROBED, document))
    assert importers <= expected

    repo = copy_repo(tmp_path)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    covering = {
        name: {
            d
            for d in depgraph.stage_deps(document["stages"][name], params)
            if depgraph.covers(d, PROBED)
        }
        for name in expected
    }
    run(repo, sys.executable, "-c", LOCK_THE_CODE)
    before = _status(repo)
    assert not [n for n, c in before.items() if any(depgraph.covers(k, PROBED) for k in c)]

    with (repo / PROBED).open("a") as f:
        f.write("\n\nDEP_PROBE = 1  # a new module-level constant\n")
    after = _status(repo)

    def stage_of(entry: str) -> str:
        return entry.split("@")[0]  # finetune@pretrained-0.1-42 -> finetune

    reporting = {n for n, c in after.items() if any(depgraph.covers(k, PROBED) for k in c)}
    present = {stage_of(n) for n in after}  # a matrix over [] (cv-fold, folds off) has no entry
    assert {stage_of(n) for n in reporting} == expected & present
    for entry, changed in after.items():
        name = stage_of(entry)
        if name in expected:
            detail = {dep: changed.get(dep) for dep in covering[name]}
            assert detail == dict.fromkeys(covering[name], "modified"), entry
        else:
            assert PROBED not in json.dumps(changed), entry
    finetunes = {n for n in after if stage_of(n) == "finetune"}
    n_matrix = 2 * len(params["finetune"]["fractions"]) * len(params["finetune"]["seeds"])
    assert len(finetunes) == n_matrix and finetunes <= reporting
    for name in ("pretrain", "finetune", "finetune-hypotension"):
        assert PROBED in covering[name]  # listed as a file, so DVC names it in the report
        assert name in present
    assert not [n for n in reporting if n.startswith("forecast-")]


def test_the_lock_records_the_code_of_this_tree() -> None:
    """dvc.lock's hash of every code dep is this tree's: a change to ttmbio/ or stages/ lands
    with its stages re-run, or, if it leaves their outputs alone, with those deps re-recorded
    (what ``dvc commit`` records), so ``dvc status`` of a fresh clone tells the truth."""
    from dvc.repo import Repo

    with Repo(str(Path(__file__).resolve().parents[1])) as repo:
        stale = [
            f"{stage.addressing}: {dep.def_path}"
            for stage in repo.index.stages
            for dep in stage.deps
            if _is_code(dep.def_path) and dep.hash_info and dep.get_hash() != dep.hash_info
        ]
    assert not stale, "dvc.lock records other code for:\n" + "\n".join(stale)
