from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from ttmbio.errors import ConfigError
from ttmbio.params import Params, load_params

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def refused(tmp_path: Path, doc: dict) -> str:
    with pytest.raises(ConfigError) as info:
        load_params(write(tmp_path, doc))
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "params.yaml"))
    return message


def test_committed_params_equal_the_code_defaults(tmp_path: Path) -> None:
    params = load_params(REPO / "params.yaml")
    assert params.splits.ratios == {"train": 0.7, "val": 0.15, "test": 0.15}
    assert params.data.vitaldb.tracks["PPG"] == ["SNUADC/PLETH"]
    (tmp_path / "params.yaml").write_text("")
    defaults = load_params(tmp_path / "params.yaml")
    assert isinstance(defaults, Params)
    assert defaults.model_dump() == params.model_dump()


def test_ratios_not_summing_to_one_name_the_param(tmp_path: Path) -> None:
    msg = refused(tmp_path, {"splits": {"ratios": {"train": 0.8, "val": 0.2, "test": 0.2}}})
    assert "splits.ratios must sum to 1, got 1.2" in msg


def test_unknown_keys_are_refused_at_any_depth(tmp_path: Path) -> None:
    assert "unknown param 'splits.sed'" in refused(tmp_path, {"splits": {"sed": 7}})
    assert "unknown param 'pretrian'" in refused(tmp_path, {"pretrian": {}})
    assert "'synth.vitaldb.n_case'" in refused(tmp_path, {"synth": {"vitaldb": {"n_case": 3}}})


def test_out_of_range_values_show_value_and_rule(tmp_path: Path) -> None:
    msg = refused(tmp_path, {"synth": {"butppg": {"good_fraction": 1.5}}})
    assert "synth.butppg.good_fraction = 1.5" in msg and "less than or equal to 1" in msg


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"splits": {"vitaldb": {"case_set": "bis2"}}}, "splits.vitaldb.case_set='bis2'"),
        ({"splits": {"folds": [0]}}, "splits.folds must be [] (off) or [0, 1, ..., k-1]"),
        ({"splits": {"folds": [1, 2]}}, "got [1, 2]; e.g. splits.folds=[0,1,2,3,4]"),
        ({"splits": {"ratios": {"train": 1.0}}}, "splits.ratios must have exactly the keys"),
        (  # the glucose splits share the rule and the message
            {"forecast": {"splits": {"ratios": {"train": 0.5, "val": 0.2, "test": 0.2}}}},
            "forecast.splits.ratios must sum to 1, got 0.9",
        ),
        (
            {"splits": {"fasttrack_cases": {"train": 5}}},
            "splits.fasttrack_cases must have exactly the keys",
        ),
        (
            {"data": {"vitaldb": {"required_channels": ["ECG", "SPO2"]}}},
            "data.vitaldb.required_channels names ['SPO2']",
        ),
        (
            {"synth": {"vitaldb": {"n_cases": 3, "n_subjects": 5}}},
            "synth.vitaldb.n_subjects (5) must be <= n_cases (3)",
        ),
        ({"data": {"vitaldb": {"source": "ftp"}}}, "data.vitaldb.source = 'ftp'"),
    ],
)
def test_cross_field_rules(tmp_path: Path, doc: dict, expected: str) -> None:
    assert expected in refused(tmp_path, doc)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")
    (tmp_path / "params.yaml").write_text("splits: [\n")
    with pytest.raises(ConfigError, match="fix the YAML syntax"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            {"windows": {"filters": {"ECG": {"band": [0.5, 70.0]}}}},
            "windows.filters.ECG.band edge 70.0 Hz must be below the Nyquist frequency",
        ),
        ({"windows": {"filters": {"PPG": {"band": [8.0, 0.5]}}}}, "low < high"),
        (
            {
                "windows": {
                    "vitaldb": {"channels": ["PPG", "SPO2"], "stride": 512, "gates": ["gap"]}
                }
            },
            "windows.vitaldb.channels ['SPO2']",
        ),
        (
            {
                "windows": {
                    "vitaldb": {"channels": ["PPG"], "stride": 512, "gates": ["gap", "ecg_sqi"]}
                }
            },
            "gates ['ecg_sqi'] need channels ['ECG']",
        ),
        (
            {"windows": {"butppg": {"channels": ["PPG", "GYRO"], "stride": 226, "gates": ["gap"]}}},
            "windows.butppg.channels ['GYRO'] are not channels of data.butppg",
        ),
        (
            {
                "data": {"datasets": ["vitaldb", "butppg", "bidmc"]},
                "windows": {"bidmc": {"channels": ["PPG", "RESP"], "stride": 512, "gates": []}},
            },
            "windows.bidmc.channels ['RESP'] have no entry in windows.filters; add one",
        ),
        (
            {
                "data": {"datasets": ["vitaldb", "butppg", "bidmc"]},
                "windows": {"bidmc": {"channels": ["PPG", "ABP"], "stride": 512, "gates": ["gap"]}},
            },
            "windows.bidmc.channels ['ABP'] are not channels of data.bidmc (known: ['ECG', 'PPG', "
            "'RESP'])",
        ),
        ({"data": {"datasets": ["vitaldb", "mimic"]}}, "datasets must be distinct names of data"),
        ({"data": {"datasets": ["vitaldb", "vitaldb"]}}, "datasets must be distinct names of data"),
        ({"data": {"datasets": ["butppg"]}}, "must list vitaldb: pretraining reads its windows"),
        (
            {"data": {"datasets": ["vitaldb"]}},
            "finetune.task='butppg_quality' reads dataset 'butppg', which data.datasets "
            "['vitaldb'] does not list; add it there",
        ),
        ({"windows": {"vitaldb": {"gates": ["gap", "sqi"]}}}, "windows.vitaldb.gates.1 = 'sqi'"),
        (
            {"windows": {"shard_windows": 100, "chunk_windows": 32}},
            "shard_windows (100) must be a multiple of chunk_windows (32)",
        ),
    ],
)
def test_windows_rules(tmp_path: Path, doc: dict, expected: str) -> None:
    assert expected in refused(tmp_path, doc)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            {"model": {"context_length": 512}},
            "model.context_length (512) must equal windows.length (1024)",
        ),
        ({"model": {"patch_length": 100}}, "patch_length (100) must divide context_length"),
        ({"model": {"channels": ["PPG", "SPO2"]}}, "model.channels ['SPO2'] are not in"),
        (
            {"model": {"adaptive_patching_levels": 3, "patch_length": 4}},
            "adaptive_patching_levels=3",
        ),
        (
            {"pretrain": {"stft_resolutions": [{"n_fft": 2048, "hop_length": 512}]}},
            "pretrain.stft_resolutions n_fft=2048 is larger than the window",
        ),
        ({"pretrain": {"mask_ratio": 0.0}}, "pretrain.mask_ratio = 0.0"),
        ({"pretrain": {"warmup_epochs": 20}}, "warmup_epochs (20.0) must be below epochs"),
        ({"finetune": {"task": "sepsis"}}, "finetune.task='sepsis' is not one of"),
        ({"finetune": {"mode": "fm", "lora": {"enabled": True}}}, "set mode=ft"),
        (
            {"pretrain": {"probe_tasks": ["butppg_quality"]}},
            "pretrain.probe_tasks has 'butppg_quality'; probes read the pretraining windows",
        ),
        (
            {"pretrain": {"spectrum_low_hz": 70.0}},
            "pretrain.spectrum_low_hz (70.0) must be below the Nyquist frequency",
        ),
        ({"finetune": {"head": {"norm": "layer"}}}, "finetune.head.norm"),
    ],
)
def test_model_and_pretrain_rules(tmp_path: Path, doc: dict, expected: str) -> None:
    assert expected in refused(tmp_path, doc)


def test_hypotension_episode_range_must_be_ordered(tmp_path: Path) -> None:
    msg = refused(tmp_path, {"synth": {"vitaldb": {"hypotension_episodes": [2, 1]}}})
    assert "hypotension_episodes must be [low, high] with low <= high, got [2, 1]" in msg


def test_the_synthetic_case_mix_is_defined_once() -> None:
    """synth.vitaldb extends the CaseMix the simulator draws from: the same fields, defaults
    and checks, so params.yaml and a CaseMix built in code cannot drift apart."""
    from ttmbio.params.data import CaseMix, SynthVitalDB
    from ttmbio.synth.case_profile import random_case_profile

    synth = SynthVitalDB()
    assert isinstance(synth, CaseMix) and synth.mix == CaseMix()
    assert set(CaseMix.model_fields) < set(SynthVitalDB.model_fields)
    changed = SynthVitalDB(af_fraction=1.0, hypotension_episodes=(0, 0))
    assert changed.mix.af_fraction == 1.0
    profile = random_case_profile(np.random.default_rng(0), 900.0, changed.mix)
    assert profile.n_af_episodes > 0 and profile.n_hypotension_episodes == 0
    with pytest.raises(ValueError, match="pvc_per_min must be"):
        CaseMix(pvc_per_min=(0.0, 1.0))
