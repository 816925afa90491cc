"""The saved preprocessing recipe: what prediction keeps and drops of the trained windowing."""

from __future__ import annotations

from ttmbio.params import Params
from ttmbio.windows.recipe import WindowRecipe, recipe_of

STATS = {c: {"mean": 1.0, "std": 2.0} for c in ("PPG", "ECG", "ABP")}


def recipe(**windows: object) -> WindowRecipe:
    params = Params.model_validate({"windows": windows}) if windows else Params()
    return recipe_of(params, "vitaldb", STATS)


def test_recipe_round_trips_through_json() -> None:
    r = recipe(label_horizon_s=60.0)
    assert WindowRecipe.model_validate_json(r.model_dump_json()) == r
    assert r.stats["ABP"].std == 2.0 and r.tracks["vitaldb"]["PPG"] == ["SNUADC/PLETH"]


def test_gates_of_absent_channels_are_dropped_and_named() -> None:
    cfg, params, dropped = recipe(label_horizon_s=60.0).for_channels(["ECG", "PPG"])
    assert dropped == ["bp"]
    assert cfg.channels == ["PPG", "ECG"]  # the trained order, not the caller's
    assert cfg.gates == [g for g in Params().windows.vitaldb.gates if g != "bp"]
    assert params.label_horizon_s == 0.0  # prediction needs no future ABP
    assert params.filters == Params().windows.filters and params.fs == 125.0


def test_all_trained_channels_keep_every_gate() -> None:
    cfg, _, dropped = recipe().for_channels(["PPG", "ECG", "ABP"])
    assert dropped == [] and cfg.gates == Params().windows.vitaldb.gates


def test_the_recipe_keeps_each_datasets_track_names() -> None:
    params = Params.model_validate(
        {"data": {"bidmc": {"tracks": {"PPG": ["PPGFINGER"], "ECG": ["II"], "RESP": ["RESP"]}}}}
    )
    tracks = recipe_of(params, "vitaldb", STATS).tracks
    assert tracks["bidmc"]["PPG"] == ["PPGFINGER"]  # predict reads new records by these
    assert tracks["vitaldb"] == params.data.vitaldb.tracks
    assert "butppg" not in tracks  # its channels are files, not names


def test_a_recipe_from_before_per_dataset_track_names_still_reads() -> None:
    old = recipe().model_dump(mode="json")
    old["tracks"] = {"PPG": ["SNUADC/PLETH"], "ECG": ["SNUADC/ECG_II"]}  # VitalDB's alone
    assert WindowRecipe.model_validate(old).tracks == {"vitaldb": old["tracks"]}
