"""Scores files and ``ttmbio compare`` on files: pairing, noise vs a real improvement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ttmbio.errors import ConfigError
from ttmbio.evaluation.scores import pair, read_scores, scores_csv, write_scores
from ttmbio_stages.cli import app


def _scored(probability: np.ndarray, labels: np.ndarray, n_cases: int) -> dict[str, np.ndarray]:
    per = len(labels) // n_cases
    return {
        "case_id": np.repeat([f"{100000 + i}" for i in range(n_cases)], per),
        "subject_id": np.repeat([f"{100 + i // 2}" for i in range(n_cases)], per),
        "start_s": np.tile(np.arange(per) * 4.096, n_cases),
        "label": labels,
        "score": probability,
        "probability": probability,
    }


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Base, base + tiny noise, and a clearly better model, on 40 recordings x 4 windows."""
    rng = np.random.default_rng(11)
    n_cases, per = 40, 4
    labels = np.repeat(rng.integers(0, 2, n_cases), per)
    logit = 1.0 * labels + np.repeat(rng.normal(0, 1, n_cases), per) + rng.normal(0, 0.3, 160)
    sets = {
        "base": logit,
        "noise": logit + rng.normal(0, 0.05, 160),
        "better": logit + 2.5 * labels,
    }
    out = {}
    for name, value in sets.items():
        out[name] = tmp_path / f"{name}.csv"
        write_scores(out[name], "butppg", _scored(1 / (1 + np.exp(-value)), labels, n_cases))
    return out


def test_scores_file_round_trips_and_is_deterministic(files: dict[str, Path]) -> None:
    s = read_scores(files["base"])
    assert s.dataset == "butppg" and len(s.label) == 160 and len(set(s.case_id)) == 40
    text = files["base"].read_text()
    assert text.splitlines()[0] == "dataset,case_id,subject_id,start_s,label,score,probability"
    again = _scored(s.probability, s.label, 40)
    assert scores_csv("butppg", again) == text


def test_pair_refuses_other_windows_or_labels(files: dict[str, Path], tmp_path: Path) -> None:
    base = read_scores(files["base"])
    lines = files["base"].read_text().splitlines()
    (tmp_path / "fewer.csv").write_text("\n".join(lines[:-4]) + "\n")
    with pytest.raises(ConfigError, match="score different test windows"):
        pair(base, read_scores(tmp_path / "fewer.csv"))
    first = lines[1].split(",")
    first[4] = str(1 - int(first[4]))  # the label column
    (tmp_path / "flipped.csv").write_text("\n".join([lines[0], ",".join(first), *lines[2:]]))
    with pytest.raises(ConfigError, match="label the same windows differently"):
        pair(base, read_scores(tmp_path / "flipped.csv"))
    shuffled = [lines[0], *reversed(lines[1:])]
    (tmp_path / "shuffled.csv").write_text("\n".join(shuffled) + "\n")
    probability = pair(base, read_scores(tmp_path / "shuffled.csv"))
    np.testing.assert_array_equal(probability, base.probability)


def _row(out: str, metric: str) -> list[str]:
    rows = [r for r in out.splitlines() if r.startswith(f"| {metric} |")]
    assert len(rows) == 1, out
    return [c.strip() for c in rows[0].strip("|").split("|")]


def test_compare_files_noise_is_not_significant_better_is(files: dict[str, Path]) -> None:
    runner = CliRunner()
    noise = runner.invoke(app, ["compare", str(files["base"]), str(files["noise"])])
    assert noise.exit_code == 0, noise.output
    assert "160 butppg test windows of 40 recordings" in noise.output
    for metric in ("auroc", "auprc", "balanced_accuracy", "ece"):
        assert _row(noise.output, metric)[-1] == "no"
    better = runner.invoke(app, ["compare", str(files["base"]), str(files["better"]), "--md"])
    assert better.exit_code == 0, better.output
    auroc = _row(better.output, "auroc")
    assert auroc[-1] == "yes, better" and float(auroc[3]) > 0.05
    assert "intervals resample 40 recordings" in better.output
    subject = runner.invoke(
        app, ["compare", str(files["base"]), str(files["better"]), "--unit", "subject"]
    )
    assert "of 20 subjects" in subject.output


def test_compare_unknown_side_is_one_line(files: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["compare", str(files["base"]), "no-such-rev"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: no-such-rev: neither a scores file")
