"""A TTM glucose forecaster over granite-tsfm's own forecasting path (spec 002's TTMForecaster).

tsfm_public does the work: :class:`TimeSeriesPreprocessor` scales (standard or min-max, one
scaler over all training patients so unseen patients can be scaled), :class:`ForecastDFDataset`
cuts context/forecast windows per patient, :class:`TinyTimeMixerForPrediction` forecasts
(target channel predicted, inputs such as carbs and insulin on board as conditional channels
mixed in the decoder) and the Hugging Face :class:`Trainer` trains. Robust scaling, which
tsfm lacks, is scikit-learn's ``RobustScaler`` applied before the preprocessor (scaling off).

``fit`` on a fitted forecaster fine-tunes it and keeps its scaler, so a model trained on some
patients and adapted to others sees every patient in the same units.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ttmbio.dropout import use_fast_dropout
from ttmbio.errors import SourceError
from ttmbio.forecast.forecasts import Forecasts, observed_target, pad_future
from ttmbio.forecast.quality import QualityReport, check_with_config
from ttmbio.params import ForecastModelConfig

FORMAT = "ttmbio.forecaster/1"
INTERNAL_ID = "0"  # tsfm's scaler key when one scaler covers every series


def _timing(key: str) -> bool:
    """HF Trainer log keys that measure wall time (``train_runtime``, ``*_per_second``)."""
    return key.endswith(("_runtime", "_per_second"))


class Forecaster:
    """fit, predict, save, load and predict_zero_shot, set up by :class:`ForecastModelConfig`."""

    def __init__(self, config: ForecastModelConfig) -> None:
        self.config = config
        self.model: Any = None  # TinyTimeMixerForPrediction
        self.preprocessor: Any = None  # TimeSeriesPreprocessor
        self.robust: dict[str, tuple[float, float]] | None = None  # column -> (center, scale)
        self.inputs: list[str] | None = None  # inputs kept after the quality checks
        self.history: list[dict[str, float]] = []

    # ------------------------------------------------------------------ data

    def clean(
        self, data: pd.DataFrame | dict[str, pd.DataFrame]
    ) -> tuple[pd.DataFrame, QualityReport]:
        """Quality checks and imputation (see :mod:`ttmbio.forecast.quality`)."""
        frame, report = check_with_config(data, self.config, self.inputs)
        if self.inputs is not None:
            missing = [x for x in self.inputs if x not in frame.columns]
            if missing:
                raise SourceError(
                    f"inputs {missing} were used in training but are constant or missing here; "
                    "the model needs them"
                )
        return frame, report

    def _columns(self) -> dict[str, Any]:
        c = self.config
        return {
            "id_columns": [c.id_column],
            "timestamp_column": c.timestamp_column,
            "target_columns": [c.target],
            "conditional_columns": list(self.inputs or []),
        }

    def _fit_scaling(self, frame: pd.DataFrame) -> None:
        from tsfm_public.toolkit.time_series_preprocessor import TimeSeriesPreprocessor

        c = self.config
        if c.scaler == "robust":
            from sklearn.preprocessing import RobustScaler

            cols = [c.target, *(self.inputs or [])]
            fitted = RobustScaler().fit(frame[cols].to_numpy(dtype=np.float64))
            scale = np.where(fitted.scale_ > 0, fitted.scale_, 1.0)
            self.robust = {
                col: (float(m), float(s))
                for col, m, s in zip(cols, fitted.center_, scale, strict=True)
            }
        self.preprocessor = TimeSeriesPreprocessor(
            **self._columns(),
            context_length=c.context_length,
            prediction_length=c.forecast_length,
            scaling=c.scaler != "robust",
            scaler_type="standard" if c.scaler == "robust" else c.scaler,
            scaling_id_columns=[],  # one scaler for every patient: unseen patients scale too
            encode_categorical=False,
            freq=f"{c.resolution_min}min",
        )
        self.preprocessor.train(self._robust_scaled(frame))

    def _robust_scaled(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.robust is None:
            return frame
        out = frame.copy()
        for col, (center, scale) in self.robust.items():
            out[col] = (out[col] - center) / scale
        return out

    def _dataset(self, frame: pd.DataFrame, stride: int, padding: bool = False) -> Any:
        from tsfm_public.toolkit.dataset import ForecastDFDataset

        scaled = self.preprocessor.preprocess(self._robust_scaled(frame))
        return ForecastDFDataset(
            scaled,
            **self._columns(),
            context_length=self.config.context_length,
            prediction_length=self.config.forecast_length,
            stride=stride,
            enable_padding=padding,
        )

    def _unscale_target(self, values: np.ndarray) -> np.ndarray:
        """Model units -> target units (mmol/L for the default)."""
        shape = values.shape
        flat = values.reshape(-1, 1).astype(np.float64)
        if self.preprocessor.scaling:
            flat = self.preprocessor.target_scaler_dict[INTERNAL_ID].inverse_transform(flat)
        if self.robust is not None:
            center, scale = self.robust[self.config.target]
            flat = flat * scale + center
        return flat.reshape(shape)

    # ------------------------------------------------------------------ model

    def _new_model(self) -> Any:
        from tsfm_public.models.tinytimemixer import TinyTimeMixerForPrediction

        from ttmbio.ttm import tiny_time_mixer_config

        c = self.config
        n_channels = 1 + len(self.inputs or [])
        shared = {
            "num_input_channels": n_channels,
            "prediction_channel_indices": [0],
            "decoder_mode": "mix_channel" if n_channels > 1 else "common_channel",
        }
        if c.model_path:
            model = TinyTimeMixerForPrediction.from_pretrained(c.model_path, **shared)
            if model.config.context_length != c.context_length:
                raise SourceError(
                    f"forecast.model.model_path={c.model_path!r} has context length "
                    f"{model.config.context_length}, not context_length={c.context_length}"
                )
            return model
        torch.manual_seed(c.seed)
        config = tiny_time_mixer_config(
            context_length=c.context_length,
            patch_length=c.patch_length,
            d_model=c.d_model,
            num_layers=c.num_layers,
            dropout=c.dropout,
            prediction_length=c.forecast_length,
            head_dropout=c.dropout,
            decoder_d_model=max(8, c.d_model // 2),
            decoder_num_layers=2,
            scaling="std",
            **shared,
        )
        return TinyTimeMixerForPrediction(config)

    def fit(
        self,
        train_data: pd.DataFrame | dict[str, pd.DataFrame],
        val_data: pd.DataFrame | dict[str, pd.DataFrame] | None = None,
        output_dir: Path | None = None,
        epochs: int | None = None,
        learning_rate: float | None = None,
    ) -> dict[str, Any]:
        """Train (or, when already fitted, fine-tune) with the HF Trainer; keep the best epoch
        on ``val_data`` when given. Returns the quality report and the per-epoch losses."""
        from transformers import EarlyStoppingCallback, Trainer, TrainingArguments, set_seed

        c = self.config
        first = self.preprocessor is None
        if first:
            self.inputs = None
        frame, report = self.clean(train_data)
        if first:
            self.inputs = [x for x in c.inputs if x in frame.columns]
            self._fit_scaling(frame)
        train = self._dataset(frame, c.train_stride)
        if len(train) == 0:
            raise SourceError(
                f"no training window: every series is shorter than context_length + "
                f"forecast_length ({c.context_length + c.forecast_length} steps)"
            )
        val = None
        if val_data is not None:
            val = self._dataset(self.clean(val_data)[0], c.train_stride)
            val = val if len(val) else None
        if self.model is None:
            self.model = self._new_model()
        use_fast_dropout(self.model)  # TTM's CPU dropout masks: ~40 % of a training step
        if c.freeze_backbone:
            for p in self.model.backbone.parameters():
                p.requires_grad_(False)
        set_seed(c.seed)
        n_epochs = c.epochs if epochs is None else epochs
        work = (
            Path(tempfile.mkdtemp(prefix="ttmbio-forecast-")) if output_dir is None else output_dir
        )
        args = TrainingArguments(
            output_dir=str(work),
            num_train_epochs=n_epochs,
            per_device_train_batch_size=c.batch_size,
            per_device_eval_batch_size=4 * c.batch_size,
            learning_rate=learning_rate or c.learning_rate,
            weight_decay=0.01,
            lr_scheduler_type="cosine",
            warmup_ratio=0.05,
            eval_strategy="epoch" if val is not None else "no",
            save_strategy="epoch" if val is not None else "no",
            save_total_limit=1,
            load_best_model_at_end=val is not None,
            metric_for_best_model="eval_loss",
            logging_strategy="epoch",
            report_to=["tensorboard"] if c.logging_dir else [],
            logging_dir=str(c.logging_dir) if c.logging_dir else None,
            seed=c.seed,
            data_seed=c.seed,
            use_cpu=not torch.cuda.is_available(),
            dataloader_num_workers=0,
            disable_tqdm=True,
            save_safetensors=True,
        )
        trainer = Trainer(
            model=self.model,
            args=args,
            train_dataset=train,
            eval_dataset=val,
            callbacks=[EarlyStoppingCallback(early_stopping_patience=3)] if val is not None else [],
        )
        try:
            if n_epochs > 0:
                trainer.train()
        finally:
            if output_dir is None:
                shutil.rmtree(work, ignore_errors=True)
        self.history += [  # timings left out: a rerun saves byte-identical files (contract 6)
            {k: float(v) for k, v in row.items() if isinstance(v, int | float) and not _timing(k)}
            for row in trainer.state.log_history
        ]
        return {
            "quality": report.to_dict(),
            "train_windows": len(train),
            "val_windows": 0 if val is None else len(val),
            "history": self.history,
        }

    # ------------------------------------------------------------------ inference

    @torch.no_grad()
    def predict(
        self, data: pd.DataFrame | dict[str, pd.DataFrame], stride: int = 1, batch_size: int = 256
    ) -> Forecasts:
        """Forecast from every ``stride``-th origin that has a full context, in target units.

        Windows near the end of a series forecast past the data: their ``observed`` is NaN there.
        Steps that were sensor gaps in the input are NaN in ``observed`` too (they were imputed
        for the model's context only).
        """
        if self.model is None or self.preprocessor is None:
            raise SourceError("forecaster is not fitted or loaded; call fit() or load() first")
        c = self.config
        raw = _as_frame(data, c.id_column)
        frame, _ = self.clean(raw)
        truth = observed_target(raw, frame, c)
        padded = pad_future(frame, c)
        ds = self._dataset(padded, stride)
        self.model.eval()
        preds, patients, origins = [], [], []
        for start in range(0, len(ds), batch_size):
            items = [ds[i] for i in range(start, min(start + batch_size, len(ds)))]
            past = torch.stack([it["past_values"] for it in items])
            out = self.model(past_values=past).prediction_outputs[..., 0]
            preds.append(out.numpy())
            patients += [str(it["id"][0]) for it in items]
            origins += [pd.Timestamp(it["timestamp"]) for it in items]
        if not preds:
            raise SourceError(
                f"no series has a full context of {c.context_length} steps "
                f"({c.context_length * c.resolution_min / 60:.1f} h); nothing to forecast"
            )
        predicted = self._unscale_target(np.concatenate(preds))
        step = pd.Timedelta(minutes=c.resolution_min)
        patient = np.array(patients)
        origin = np.array(origins, dtype="datetime64[ns]")
        observed = np.full_like(predicted, np.nan)
        last = np.full(len(patient), np.nan)
        context = {
            str(p): g.set_index(c.timestamp_column)[c.target] for p, g in frame.groupby(c.id_column)
        }
        ahead = step * np.arange(1, c.forecast_length + 1)
        for i, (p, t0) in enumerate(zip(patient, origin, strict=True)):
            t0 = pd.Timestamp(t0)
            observed[i] = truth[p].reindex(t0 + ahead).to_numpy(dtype=np.float64)
            last[i] = context[p].get(t0, math.nan)
        return Forecasts(patient, origin, predicted, observed, last)

    def predict_zero_shot(
        self, data: pd.DataFrame | dict[str, pd.DataFrame], stride: int = 1
    ) -> Forecasts:
        """Forecast without any training on ``data``: with a loaded forecaster as it is, or with
        ``config.model_path``'s pretrained TTM, scaled with statistics of ``data`` itself."""
        if self.model is None:
            if not self.config.model_path:
                raise SourceError(
                    "zero-shot needs a trained model: load() a saved forecaster or set "
                    "forecast.model.model_path to a pretrained TTM"
                )
            frame, _ = self.clean(data)
            self.inputs = [x for x in self.config.inputs if x in frame.columns]
            self._fit_scaling(frame)
            self.model = self._new_model()
        return self.predict(data, stride)

    # ------------------------------------------------------------------ persistence

    def save(self, path: Path) -> None:
        """A folder: HF model (safetensors), tsfm preprocessor, config and metadata (JSON)."""
        if self.model is None:
            raise SourceError("nothing to save: fit() or load() the forecaster first")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path / "model", safe_serialization=True)
        self.preprocessor.save_pretrained(path / "preprocessor")
        meta = {
            "format": FORMAT,
            "config": self.config.model_dump(mode="json"),
            "inputs": self.inputs,
            "robust": self.robust,
            "history": self.history,
        }
        (path / "forecaster.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> Forecaster:
        from tsfm_public.models.tinytimemixer import TinyTimeMixerForPrediction
        from tsfm_public.toolkit.time_series_preprocessor import TimeSeriesPreprocessor

        path = Path(path)
        meta_file = path / "forecaster.json"
        if not meta_file.is_file():
            raise SourceError(f"{path}: not a saved forecaster (no forecaster.json); run fit first")
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != FORMAT:
            raise SourceError(f"{meta_file}: format {meta.get('format')!r}, expected {FORMAT!r}")
        f = cls(ForecastModelConfig.model_validate(meta["config"]))
        f.inputs, f.history = meta["inputs"], meta["history"]
        f.robust = {k: tuple(v) for k, v in meta["robust"].items()} if meta["robust"] else None
        f.preprocessor = TimeSeriesPreprocessor.from_pretrained(str(path / "preprocessor"))
        for scaler in [
            *f.preprocessor.scaler_dict.values(),
            *f.preprocessor.target_scaler_dict.values(),
        ]:
            _restore_arrays(scaler)
        f.model = TinyTimeMixerForPrediction.from_pretrained(str(path / "model"))
        f.model.eval()
        return f


def _restore_arrays(scaler: Any) -> None:
    """tsfm saves fitted scikit-learn scalers as JSON lists; recent scikit-learn needs arrays."""
    for name, value in vars(scaler).items():
        if name.endswith("_") and isinstance(value, list):
            text = any(isinstance(v, str) for v in value)
            setattr(scaler, name, np.asarray(value, dtype=object if text else np.float64))


def _as_frame(data: pd.DataFrame | dict[str, pd.DataFrame], id_column: str) -> pd.DataFrame:
    from ttmbio.forecast.quality import to_frame

    return to_frame(data, id_column)
