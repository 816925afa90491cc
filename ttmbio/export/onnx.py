"""A fine-tuned model as one ONNX graph: normalised windows in, the model's score and (for a
calibrated binary classifier) the calibrated probability out; and an onnxruntime scorer
that ``ttmbio predict --runtime onnx`` and the bench use in place of torch.

The calibration maps are rewritten in torch ops that export: temperature and Platt scaling
on the clipped logit, isotonic interpolation as a sum of clamped ramps (what ``np.interp``
computes between the knots, held flat outside them).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from ttmbio.calibration.calibrator import Calibrator
from ttmbio.calibration.metrics import EPS
from ttmbio.errors import SourceError, first_line
from ttmbio.finetune.inference import LoadedModel, to_scores

INPUT, SCORE, PROBABILITY = "windows", "score", "probability"
OPSET = 18


class CalibrationMap(nn.Module):
    """:meth:`Calibrator.apply` in torch ops that export to ONNX."""

    def __init__(self, calibrator: Calibrator) -> None:
        super().__init__()
        self.method = calibrator.method
        params = calibrator.params
        if self.method == "temperature":
            self.scale, self.shift = 1.0 / params["temperature"], 0.0
        elif self.method == "platt":
            self.scale, self.shift = params["a"], params["b"]
        else:
            x = torch.tensor(params["x"], dtype=torch.float64)
            y = torch.tensor(params["y"], dtype=torch.float64)
            width = x[1:] - x[:-1]
            ramp = width > 0  # zero-width segments are steps: np.interp jumps at their knot
            self.register_buffer("x0", x[:-1].float())
            self.register_buffer(
                "inv_width", torch.where(ramp, 1 / width.clamp_min(1e-300), 0).float()
            )
            self.register_buffer("rise", (y[1:] - y[:-1]).float())
            self.register_buffer("ramp", ramp)
            self.y0 = float(y[0])

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        if self.method in ("temperature", "platt"):
            q = p.clamp(EPS, 1.0 - EPS)
            return torch.sigmoid(self.scale * torch.log(q / (1 - q)) + self.shift)
        d = p[:, None] - self.x0[None, :]
        frac = torch.where(self.ramp, (d * self.inv_width).clamp(0, 1), (d >= 0).to(p.dtype))
        return (self.y0 + (frac * self.rise).sum(dim=1)).clamp(0, 1)


class ScoringGraph(nn.Module):
    """Encoder + head + score (sigmoid, or the regression target in its units), and the
    calibrated probability when a calibrator is given."""

    def __init__(self, loaded: LoadedModel, calibrator: Calibrator | None) -> None:
        super().__init__()
        self.model = loaded.model
        self.kind, self.target_scale = loaded.kind, loaded.target_scale
        self.calibration = CalibrationMap(calibrator) if calibrator is not None else None

    def forward(self, windows: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        score = to_scores(self.model(windows)[:, 0], self.kind, self.target_scale)
        if self.calibration is None:
            return score
        return score, self.calibration(score)


@contextmanager
def quiet_logs() -> Iterator[None]:
    """The exporter and the quantiser log every pass at INFO (some on the root logger):
    errors only, while they run."""
    names = ("", "onnxscript", "torch.onnx", "torch.export", "onnxruntime")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@contextmanager
def _one_line(path: Path) -> Iterator[None]:
    """An exporter failure (an op it cannot convert, say) as one line naming the file."""
    try:
        yield
    except Exception as err:  # torch.onnx raises many kinds; none is the user's input
        first = first_line(err)
        raise SourceError(
            f"{path}: ONNX export failed ({type(err).__name__}: {first}); export with "
            "--no-onnx to skip the graph"
        ) from err


def export_onnx(loaded: LoadedModel, calibrator: Calibrator | None, path: Path) -> None:
    """Write ``path``: one graph with a dynamic batch axis (``torch.onnx``, dynamo exporter)."""
    graph = ScoringGraph(loaded, calibrator).eval()
    example = torch.zeros(2, len(loaded.channels), loaded.config.model.context_length)
    outputs = [SCORE] if calibrator is None else [SCORE, PROBABILITY]
    with quiet_logs(), warnings.catch_warnings(), torch.no_grad(), _one_line(path):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            graph,
            (example,),
            dynamo=True,
            input_names=[INPUT],
            output_names=outputs,
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            opset_version=OPSET,
            verbose=False,
        )
    model = program.model_proto
    _strip_sources(model)
    path.write_bytes(model.SerializeToString())


def _strip_sources(model: onnx.ModelProto) -> None:
    """Drop what the exporter records of the Python source (stack traces with absolute file
    paths, module names): the same model exported from another checkout gives the same bytes,
    so DVC sees the same output."""

    def clean(graph: onnx.GraphProto) -> None:
        graph.doc_string = ""
        del graph.metadata_props[:]
        for value in (*graph.input, *graph.output, *graph.value_info):
            value.doc_string = ""
            del value.metadata_props[:]
        for node in graph.node:
            node.doc_string = ""
            del node.metadata_props[:]
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    clean(attr.g)
                for sub in attr.graphs:
                    clean(sub)

    clean(model.graph)
    for function in model.functions:
        function.doc_string = ""
        for node in function.node:
            node.doc_string = ""
            del node.metadata_props[:]


class OnnxScorer:
    """An exported graph in onnxruntime (CPU), scoring like :meth:`LoadedModel.score`."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        if not Path(path).is_file():
            raise SourceError(f"{path}: no ONNX model here; export it with `ttmbio export model`")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime's own error types (Fail, InvalidGraph, ...)
            first = first_line(err)
            raise SourceError(
                f"{path}: not a model onnxruntime can load ({first}); re-export it with "
                "`ttmbio export model`"
            ) from None
        self.outputs = [o.name for o in self.session.get_outputs()]

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Every output of the graph for normalised windows ``[B, C, T]`` (float32)."""
        values = self.session.run(None, {INPUT: np.ascontiguousarray(x, dtype=np.float32)})
        return dict(zip(self.outputs, values, strict=True))

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """The uncalibrated score, as :meth:`LoadedModel.score` gives it."""
        return torch.from_numpy(self.run(x.numpy())[SCORE])
