"""Score new recordings with a fine-tuned (and calibrated) model.

Each recording is windowed by the recipe saved in the model's checkpoint, so it goes
through the very resampling, filters, quality gates and normalisation of training. Windows
a gate rejects are kept in the result with the gate's name instead of a score. Windows of
consecutive recordings are pooled into full batches, so a folder of 10-second BUT-PPG records
runs at the model's batch throughput rather than one tiny batch per record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import pairwise

import numpy as np
import torch

from ttmbio.calibration.calibrator import Calibrator
from ttmbio.errors import CaseError, SourceError
from ttmbio.evaluation.metrics import votes
from ttmbio.finetune.inference import LoadedModel
from ttmbio.parallel import ordered_map
from ttmbio.predict.inputs import load_input
from ttmbio.sources.base import PredictInput
from ttmbio.sources.vital_stream import SpillError
from ttmbio.windows.dataset import channel_scaler
from ttmbio.windows.process import WindowBlock, process_recording
from ttmbio.windows.recipe import WindowRecipe


@dataclass
class Prepared:
    """One input after windowing: the gates' verdict on every candidate window."""

    item: PredictInput
    block: WindowBlock | None = None
    channels: list[str] = field(default_factory=list)  # of block.signals, in order
    gates_not_applied: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class RecordingResult:
    """Every candidate window of one recording, scored or rejected, and the recording's score."""

    item: PredictInput
    start_s: np.ndarray  # every candidate window
    reason: np.ndarray  # "" when scored, else the first quality gate it failed
    raw: np.ndarray  # model output per window (uncalibrated probability or value); NaN if rejected
    score: np.ndarray  # calibrated probability (binary) or value (regression); NaN if rejected
    gates_not_applied: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def scored(self) -> np.ndarray:
        return self.reason == ""


def prepare(item: PredictInput, recipe: WindowRecipe, channels: list[str]) -> Prepared:
    """Load and window one input; a per-input problem becomes ``error``, not an exception."""
    trained = recipe.dataset_windows.channels
    optional = [c for c in trained if c not in channels]
    try:
        try:
            rec = load_input(item, channels, optional, recipe.tracks)
        except SpillError:  # a full TMPDIR is no fault of the recording: stop
            raise
        except (ValueError, OSError, IndexError) as err:  # wfdb/vitaldb on malformed files
            raise CaseError(f"{item.path}: unreadable recording ({err})") from None
        present = [c for c in optional if c in rec.signals]
        cfg, params, dropped = recipe.for_channels([*channels, *present])
        block = process_recording(rec, cfg, params)
    except CaseError as err:
        message = str(err)
        if str(item.path) not in message:
            message = f"{item.path}: {message}"
        return Prepared(item, error=message)
    return Prepared(item, block, cfg.channels, dropped)


Scorer = Callable[[torch.Tensor], torch.Tensor]  # normalised windows -> one score each


class Predictor:
    """A loaded model, its recipe and optional calibrator, scoring prepared windows."""

    def __init__(
        self,
        loaded: LoadedModel,
        calibrator: Calibrator | None,
        batch_size: int = 256,
        scorer: Scorer | None = None,
    ) -> None:
        if loaded.recipe is None:
            raise SourceError(
                "the model's checkpoint has no preprocessing recipe (written by an older "
                "ttmbio); re-run `ttmbio finetune` (or `dvc repro`) to save one"
            )
        if calibrator is not None and loaded.kind != "binary":
            raise SourceError("a calibrator applies to binary classifiers only, not regression")
        self.loaded, self.recipe, self.calibrator = loaded, loaded.recipe, calibrator
        self.scorer: Scorer = scorer or loaded.score  # torch, or onnxruntime's session
        self.batch_size = batch_size
        self.mean, self.std = channel_scaler(
            {c: s.model_dump() for c, s in self.recipe.stats.items()}, loaded.channels
        )

    def score(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(raw, calibrated) scores of normalised windows ``[n, C, T]``, in batches."""
        raw = [
            self.scorer(torch.from_numpy(x[i : i + self.batch_size])).numpy()
            for i in range(0, len(x), self.batch_size)
        ]
        out = np.concatenate(raw).astype(np.float64) if raw else np.zeros(0)
        return out, (self.calibrator.apply(out) if self.calibrator is not None else out)

    def normalized(self, p: Prepared) -> np.ndarray:
        """The model's channels of ``p``'s accepted windows, normalised with train stats."""
        assert p.block is not None
        idx = [p.channels.index(c) for c in self.loaded.channels]
        signals = np.asarray(p.block.signals)  # held in memory: predict does not spill
        return ((signals[:, idx] - self.mean) / self.std).astype(np.float32)

    def _score(self, prepared: list[Prepared]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(raw, calibrated) scores of every accepted window of ``prepared``, in one pass."""
        if not prepared:
            return []
        raw, calibrated = self.score(np.concatenate([self.normalized(p) for p in prepared]))
        bounds = np.cumsum([0, *(len(p.block) for p in prepared if p.block is not None)])
        return [(raw[a:b], calibrated[a:b]) for a, b in pairwise(bounds)]

    def results(self, prepared: Iterable[Prepared]) -> Iterator[RecordingResult]:
        """Score prepared inputs in full batches, yielding one result per input, in order."""
        pending: list[Prepared] = []
        waiting = 0
        for p in prepared:
            pending.append(p)
            waiting += len(p.block) if p.block is not None else 0
            if waiting >= self.batch_size:
                yield from self._flush(pending)
                pending, waiting = [], 0
        yield from self._flush(pending)

    def _flush(self, pending: list[Prepared]) -> Iterator[RecordingResult]:
        ok = [p for p in pending if p.block is not None]
        scored = dict(zip((id(p) for p in ok), self._score(ok), strict=True))
        for p in pending:
            if p.block is None:
                empty = np.zeros(0)
                yield RecordingResult(p.item, empty, empty.astype(str), empty, empty, error=p.error)
                continue
            raw_ok, cal_ok = scored[id(p)]
            reason = p.block.candidate_reason
            raw = np.full(len(reason), np.nan)
            score = np.full(len(reason), np.nan)
            raw[reason == ""], score[reason == ""] = raw_ok, cal_ok
            yield RecordingResult(
                p.item, p.block.candidate_start_s, reason, raw, score, p.gates_not_applied
            )

    def predict(self, items: list[PredictInput], workers: int = 1) -> Iterator[RecordingResult]:
        """Window ``items`` over ``workers`` processes and score them, in input order."""
        job = partial(prepare, recipe=self.recipe, channels=self.loaded.channels)
        return self.results(ordered_map(job, items, workers))


def recording_score(result: RecordingResult, kind: str, voting: str, threshold: float) -> float:
    """One score per recording from its scored windows: the mean probability (soft voting),
    the share of windows called positive (hard voting), or the mean value (regression);
    NaN when no window passed the gates."""
    scores = result.score[result.scored]
    if len(scores) == 0:
        return float("nan")
    if kind != "binary":
        return float(scores.mean())
    return float(votes(scores, voting, threshold).mean())
