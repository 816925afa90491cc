"""Frozen linear probes, per-layer features and the effective rank."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from ttmbio.model.encoder import TTMEncoder
from ttmbio.params import ModelParams
from ttmbio.ssl.probe import effective_rank, probe_score

CFG = ModelParams(channels=["PPG", "ECG"], d_model=16, num_layers=3)


def test_hidden_states_are_the_embedding_and_each_block_ending_in_the_output() -> None:
    encoder = TTMEncoder(CFG).eval()
    x = torch.randn(4, 2, CFG.context_length)
    hidden = encoder.hidden_states(x)
    assert len(hidden) == CFG.num_layers + 1
    assert all(h.shape == (4, 2, CFG.n_patches, CFG.d_model) for h in hidden)
    torch.testing.assert_close(hidden[-1], encoder(x), rtol=0, atol=0)
    patches = encoder.backbone.encoder.patcher(encoder.backbone.patching(x.transpose(1, 2)))
    torch.testing.assert_close(hidden[0], patches, rtol=0, atol=0)
    assert not torch.equal(hidden[0], hidden[1])


def test_effective_rank_of_isotropic_and_rank_one_features() -> None:
    rng = np.random.default_rng(0)
    iso = rng.standard_normal((5000, 8))
    assert effective_rank(iso) == pytest.approx(8.0, rel=0.02)
    line = rng.standard_normal((500, 1)) @ rng.standard_normal((1, 8))
    assert effective_rank(line) == pytest.approx(1.0, abs=1e-6)


def test_probe_scores_label_carrying_features_far_above_noise() -> None:
    rng = np.random.default_rng(1)
    y_tr, y_va = rng.integers(0, 2, 400).astype(float), rng.integers(0, 2, 200).astype(float)
    noise_tr, noise_va = rng.standard_normal((400, 6)), rng.standard_normal((200, 6))
    signal_tr = noise_tr + np.c_[2 * y_tr, np.zeros((400, 5))]
    signal_va = noise_va + np.c_[2 * y_va, np.zeros((200, 5))]
    good = probe_score(signal_tr, y_tr, signal_va, y_va, "binary")
    chance = probe_score(noise_tr, y_tr, noise_va, y_va, "binary")
    assert good > 0.8 and abs(chance - 0.5) < 0.1
    # the same as fitting scikit-learn by hand on standardised features
    mean, std = signal_tr.mean(0), signal_tr.std(0)
    ref = LogisticRegression(max_iter=2000, class_weight="balanced").fit(
        (signal_tr - mean) / std, y_tr
    )
    assert good == pytest.approx(
        roc_auc_score(y_va, ref.decision_function((signal_va - mean) / std)), abs=1e-9
    )


def test_probe_drops_unknown_labels_and_scores_regression_by_r2() -> None:
    rng = np.random.default_rng(2)
    x_tr, x_va = rng.standard_normal((300, 4)), rng.standard_normal((100, 4))
    y_tr, y_va = x_tr @ [1.0, 2.0, 0, 0], x_va @ [1.0, 2.0, 0, 0]
    y_tr[:20] = np.nan
    assert probe_score(x_tr, y_tr, x_va, y_va, "regression") > 0.99
    labels = (y_tr > 0).astype(float)
    labels[:30] = -1  # unknown binary labels are left out, not a third class
    assert probe_score(x_tr, labels, x_va, (y_va > 0).astype(float), "binary") > 0.95


def test_probe_report_on_tiny_windows(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.fixtures.pipeline import build_tiny_pipeline
    from ttmbio.ssl.probe import ProbeTarget, probe_report, window_log_std
    from ttmbio.windows.dataset import WindowDataset

    tmp = tmp_path_factory.mktemp("probe")
    build_tiny_pipeline(tmp)
    folder = tmp / "windows" / "vitaldb"
    train = WindowDataset(folder / "train.zarr", ["PPG", "ECG"], ["hr_bpm", "map_mmhg"])
    val = WindowDataset(folder / "val.zarr", ["PPG", "ECG"], ["hr_bpm", "map_mmhg"])
    torch.manual_seed(0)
    pretrained, random = TTMEncoder(CFG), TTMEncoder(CFG)
    targets = [ProbeTarget("hr_bpm", "regression"), ProbeTarget("map_mmhg", "regression")]
    report = probe_report(pretrained, random, train, val, targets)
    for name in ("hr_bpm", "map_mmhg"):
        for suffix in ("", "_random", "_log_std"):
            assert np.isfinite(report[f"probe_{name}_r2{suffix}"])
        gain = report[f"probe_gain_{name}"]
        assert gain == pytest.approx(report[f"probe_{name}_r2"] - report[f"probe_{name}_r2_random"])
    assert 1.0 < report["effective_rank"] <= 2 * CFG.d_model
    amplitude = window_log_std(val)
    assert amplitude.shape == (len(val), 2)
    x = val[0]["x"].numpy()
    np.testing.assert_allclose(amplitude[0], np.log(x.std(axis=-1) + 1e-3), rtol=1e-5)
