"""The classical baseline of a binary task: features -> scikit-learn -> the model's test report.

Everything that makes two numbers comparable is shared with the fine-tuned model, not copied:

* train windows: ``windows.labels.label_subset`` with the same label fraction and seed picks
  the very windows a fine-tuning run of that fraction and seed trains on (windows whose
  target is negative or NaN are excluded, as there); val and test keep every labelled window;
* calibration: ``calibration.fit_on_val`` fits ``calibrate.method`` on the val probabilities and
  keeps the identity if that would make val ECE worse, as the calibrate stage does;
* test metrics: ``evaluation.evaluate_scored`` gives the evaluate stage's report (per window and
  per recording, cluster-bootstrap intervals over ``evaluate.bootstrap_unit``).

The classifier is an L2 logistic regression on median-imputed, standardised features, or
histogram gradient boosting; with ``baseline.model: auto`` both are fitted and the one with the
higher val AUROC is kept (test is never looked at to choose). The report explains the fit:
standardised coefficients (logistic) or the permutation importance on val (AUROC drop, gbm).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ttmbio.baseline.features import FeatureTable, meta_fields, window_features
from ttmbio.calibration.calibrator import fit_on_val
from ttmbio.errors import ConfigError, SourceError
from ttmbio.evaluation.metrics import auroc, evaluate_scored
from ttmbio.params import TASKS, BaselineParams, Params, TaskSpec, binary_tasks
from ttmbio.windows.labels import label_subset
from ttmbio.windows.store import WindowStore

CANDIDATES = ("logistic", "gbm")
ID_FIELDS = ("case_id", "subject_id", "start_s")


@dataclass(frozen=True)
class SplitFeatures:
    """The labelled windows of one split that a run uses: features, labels and ids."""

    path: Path
    features: FeatureTable
    labels: np.ndarray  # int 0/1
    ids: dict[str, np.ndarray]
    targets: np.ndarray  # the task's target of every window of the store (-1/NaN: unused)
    index: np.ndarray  # store index of each row

    def subset(self, idx: np.ndarray) -> SplitFeatures:
        """The rows of store windows ``idx`` (a subset of :attr:`index`)."""
        rows = np.searchsorted(self.index, idx)
        return SplitFeatures(
            self.path,
            FeatureTable(self.features.names, self.features.values[rows]),
            self.labels[rows],
            {k: v[rows] for k, v in self.ids.items()},
            self.targets,
            self.index[rows],
        )


def binary_spec(task: str) -> TaskSpec:
    """The task's spec, or a one-line error if it is unknown or not a classification."""
    spec = TASKS.get(task)
    if spec is None or spec.kind != "binary":
        what = "unknown" if spec is None else f"a {spec.kind} task"
        raise ConfigError(
            f"--task {task!r} is {what}; the baseline classifies, use one of {binary_tasks()}"
        )
    return spec


def split_targets(store: WindowStore, spec: TaskSpec, task: str) -> np.ndarray:
    """The task's per-window target as float64 (as fine-tuning reads it: -1/NaN = unused)."""
    if spec.target not in store.fields():
        raise ConfigError(
            f"{store.path}: no per-window field {spec.target!r} for task {task!r}; re-make the "
            "windows with this code (`dvc repro windows`)"
        )
    return store.meta(spec.target).astype(np.float64)


def read_split(path: Path, spec: TaskSpec, task: str, what: str) -> SplitFeatures:
    """Features of every labelled window of ``path``; refuses a split without both classes."""
    store = WindowStore(path)
    channels = store.channel_index(spec.channels)
    targets = split_targets(store, spec, task)
    idx = label_subset(targets, spec.kind, 1.0, 0)
    found = SplitFeatures(path, FeatureTable([], np.zeros((0, 0))), np.zeros(0), {}, targets, idx)
    _check_classes(found, idx, task, what)
    x = store.read(0, len(store), channels)[idx]
    meta = {f: store.meta(f)[idx] for f in meta_fields(spec.channels)}
    table = window_features(x, spec.channels, store.fs, meta)
    ids = {f: store.meta(f)[idx] for f in ID_FIELDS}
    return SplitFeatures(store.path, table, targets[idx].astype(int), ids, targets, idx)


def label_fraction(split: SplitFeatures, task: str, fraction: float, seed: int) -> SplitFeatures:
    """The windows a fine-tuning run of ``fraction`` and ``seed`` trains on."""
    idx = label_subset(split.targets, "binary", fraction, seed)
    _check_classes(split, idx, task, f"{fraction:.0%} of the train")
    return split.subset(idx)


def _check_classes(split: SplitFeatures, idx: np.ndarray, task: str, what: str) -> None:
    classes = len(np.unique(split.targets[idx]))
    if classes < 2:
        raise SourceError(
            f"{split.path}: the {what} windows have {len(idx)} labels of {classes} class(es) "
            f"for task {task!r}; the baseline needs both classes (check splits and "
            "metrics/windows.json)"
        )


def make_classifier(cfg: BaselineParams, kind: str, seed: int) -> Pipeline:
    """An unfitted classifier of ``kind`` (``logistic`` or ``gbm``) as a pipeline."""
    weight = "balanced" if cfg.class_weight == "balanced" else None
    if kind == "logistic":
        return make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(
                C=cfg.logistic.C, max_iter=cfg.logistic.max_iter, class_weight=weight
            ),
        )
    g = cfg.gbm
    return make_pipeline(
        HistGradientBoostingClassifier(
            learning_rate=g.learning_rate,
            max_iter=g.max_iter,
            max_leaf_nodes=g.max_leaf_nodes,
            min_samples_leaf=g.min_samples_leaf,
            l2_regularization=g.l2_regularization,
            class_weight=weight,
            early_stopping=False,
            random_state=seed,
        )
    )


def explain(
    model: Pipeline, kind: str, val: SplitFeatures, repeats: int, seed: int
) -> dict[str, float]:
    """Standardised coefficients (logistic: log-odds per SD of the feature) or the mean drop
    of val AUROC when the feature is permuted (gbm), by feature name."""
    names = val.features.names
    if kind == "logistic":
        values = model[-1].coef_[0]
    else:
        values = permutation_importance(
            model,
            val.features.values,
            val.labels,
            scoring="roc_auc",
            n_repeats=repeats,
            random_state=seed,
        ).importances_mean
    return {n: float(v) for n, v in zip(names, values, strict=True)}


def fit_candidate(
    cfg: BaselineParams, kind: str, train: SplitFeatures, val: SplitFeatures, seed: int
) -> tuple[Pipeline, dict[str, Any]]:
    """Fit one classifier on train; its val AUROC and explanation."""
    model = make_classifier(cfg, kind, seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(train.features.values, train.labels)
    info: dict[str, Any] = {
        "val_auroc": auroc(model.predict_proba(val.features.values)[:, 1], val.labels)
    }
    if kind == "logistic":
        # 1 / 0 rather than a bool, which `dvc metrics show` would drop
        info["converged"] = int(not any(w.category is ConvergenceWarning for w in caught))
    key = "coefficients" if kind == "logistic" else "importances"
    info[key] = explain(model, kind, val, cfg.importance_repeats, seed)
    return model, info


def run_baseline(
    params: Params, windows: Path, task: str, fraction: float, seed: int
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train, calibrate and test the baseline of ``task`` on ``fraction`` of the train labels
    (``seed``'s subset); return the report and the scored labelled test windows."""
    return run_baselines(params, windows, task, [(fraction, seed)])[(fraction, seed)]


def run_baselines(
    params: Params, windows: Path, task: str, runs: list[tuple[float, int]]
) -> dict[tuple[float, int], tuple[dict[str, Any], dict[str, np.ndarray]]]:
    """:func:`run_baseline` for every (fraction, seed) of ``runs``, reading each split's
    features once."""
    # one OpenMP/BLAS thread: on a shared 2-core machine gradient boosting fitted in 0.3 s
    # what took 15 s with a thread per core while other processes held the cores
    with threadpool_limits(limits=1):
        spec = binary_spec(task)
        folder = Path(windows) / spec.dataset
        splits = {s: read_split(folder / f"{s}.zarr", spec, task, s) for s in SPLITS}
        return {
            (fraction, seed): _run(params, spec, task, splits, fraction, seed)
            for fraction, seed in runs
        }


SPLITS = ("train", "val", "test")


def _run(
    params: Params,
    spec: TaskSpec,
    task: str,
    splits: dict[str, SplitFeatures],
    fraction: float,
    seed: int,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    cfg = params.baseline
    train = label_fraction(splits["train"], task, fraction, seed)
    val, test = splits["val"], splits["test"]
    kinds = CANDIDATES if cfg.model == "auto" else (cfg.model,)
    fitted = {k: fit_candidate(cfg, k, train, val, seed) for k in kinds}
    chosen = max(kinds, key=lambda k: fitted[k][1]["val_auroc"])  # first (logistic) on ties
    model = fitted[chosen][0]
    val_probs = model.predict_proba(val.features.values)[:, 1]
    calibrator, calibration, _ = fit_on_val(params.calibrate, val_probs, val.labels)
    scored = {
        "score": model.predict_proba(test.features.values)[:, 1],
        "label": test.labels.astype(np.float64),
        **test.ids,
    }
    report, known = evaluate_scored(
        scored, calibrator, params.evaluate, params.calibrate.n_bins, spec.dataset
    )
    head = {
        "task": task,
        "dataset": spec.dataset,
        "channels": list(spec.channels),
        "label_fraction": fraction,
        "seed": seed,
        "model": chosen,
        "val_auroc": fitted[chosen][1]["val_auroc"],
        "n_train_windows": len(train.labels),
        "n_train_positive": int(train.labels.sum()),
        "n_val_windows": len(val.labels),
        "n_test_windows": len(test.labels),
        "features": train.features.names,
        "candidates": {k: info for k, (_, info) in fitted.items()},
        "calibration": calibration,
    }
    return {**head, **report}, known


def summary(
    task: str, results: dict[tuple[float, int], tuple[dict[str, Any], dict[str, np.ndarray]]]
) -> dict[str, Any]:
    """The headline of every run, for `dvc metrics show`: fraction -> seed -> test AUROC/AUPRC
    with their intervals, val AUROC and the chosen model."""
    fractions: dict[str, dict[str, Any]] = {}
    for (fraction, seed), (report, _) in sorted(results.items()):
        w = report["windows"]
        fractions.setdefault(str(fraction), {})[f"seed{seed}"] = {
            "model": report["model"],
            "val_auroc": report["val_auroc"],
            "n_train_windows": report["n_train_windows"],
            **{k: w[k] for k in ("auroc", "auroc_ci_low", "auroc_ci_high", "auprc")},
        }
    return {"task": task, "fractions": fractions}
