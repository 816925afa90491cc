"""The inference benchmark runs on a tiny model and reports every rate (no speed asserted)."""

from __future__ import annotations

from pathlib import Path

from tests.finetune.test_finetune import run, tiny  # noqa: F401 - module fixture
from ttmbio.bench.inference import inference_rates
from ttmbio.finetune.inference import load_finetuned
from ttmbio.params import Params


def test_every_rate_is_measured(tiny: tuple[Path, Params]) -> None:  # noqa: F811
    out, _ = run(tiny, "bench")
    store = tiny[0] / "windows/butppg/test.zarr"
    report = inference_rates(load_finetuned(out), store, batch_size=8, repeats=2)
    for key in ("backbone", "evaluate", "predict"):
        assert report[f"{key}_windows_per_s"] > 0
    assert report["predict_vs_backbone"] > 0 and report["evaluate_vs_backbone"] > 0
    assert report["channels"] == 5 and report["windows"] > 0 and report["batch_size"] == 8
