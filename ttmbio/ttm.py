"""granite-tsfm's TinyTimeMixer as the project imports it, and the one mapping from ttmbio's
params to its ``TinyTimeMixerConfig``.

Both TTMs of the project, the biosignal encoder (:mod:`ttmbio.model.encoder`) and the glucose
forecaster (:mod:`ttmbio.forecast.model`), are built here, so the fields they share mean the
same thing in both: patches never overlap (stride = length), and ``dropout`` is TTM's.

Importing this module defers ``tsfm_public``'s package ``__init__`` (see
:func:`defer_tsfm_package_init`): TTM's model classes load without granite-tsfm's toolkit.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from typing import Any

_TSFM = "tsfm_public"
# dunder names that mean "the package itself": reading one runs the real __init__
_PACKAGE_NAMES = frozenset({"__all__", "__version__", "__version_tuple__"})


def defer_tsfm_package_init() -> None:
    """Let ``tsfm_public``'s subpackages import before its ``__init__`` has run.

    granite-tsfm's package ``__init__`` imports its whole toolkit (pandas, datasets, the
    transformers model-loading stack) to register one config: ~2 s of importing TTM's model
    on 2 cores, 0.6-1.4 s of a fine-tuning run (which imports some of it anyway), and a
    stage that builds a TTM needs none of it. Here the package module is made from its real
    spec and put in ``sys.modules`` unexecuted, so ``tsfm_public.models.tinytimemixer``
    imports as usual; the real ``__init__`` runs, in that same module, the first time a name
    is read from the package itself (``from tsfm_public import TimeSeriesPreprocessor``).
    Every class is still loaded once. A process that already imported the package keeps it.
    """
    if _TSFM in sys.modules:
        return
    spec = importlib.util.find_spec(_TSFM)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {_TSFM!r}", name=_TSFM)
    package = importlib.util.module_from_spec(spec)
    lock = threading.RLock()
    started: list[bool] = []

    def run_package_init(name: str) -> Any:
        if name.startswith("__") and name not in _PACKAGE_NAMES:
            raise AttributeError(f"module {_TSFM!r} has no attribute {name!r}")
        with lock:
            if not started:
                started.append(True)
                try:
                    spec.loader.exec_module(package)  # type: ignore[union-attr]
                except BaseException:
                    sys.modules.pop(_TSFM, None)  # as a failed import leaves it
                    raise
        # the real __init__ puts a lazy module in its place: names are read from that one,
        # also through references to this module taken before
        current = sys.modules.get(_TSFM)
        if current is None or current is package:
            raise AttributeError(f"module {_TSFM!r} has no attribute {name!r}")
        return getattr(current, name)

    package.__getattr__ = run_package_init  # type: ignore[method-assign]
    sys.modules[_TSFM] = package


defer_tsfm_package_init()

from tsfm_public.models.tinytimemixer import (  # noqa: E402 (after the deferral)
    TinyTimeMixerConfig,
    TinyTimeMixerForPrediction,
)
from tsfm_public.models.tinytimemixer.modeling_tinytimemixer import (  # noqa: E402
    TinyTimeMixerModel,
)

__all__ = [
    "TinyTimeMixerConfig",
    "TinyTimeMixerForPrediction",
    "TinyTimeMixerModel",
    "defer_tsfm_package_init",
    "tiny_time_mixer_config",
]


def tiny_time_mixer_config(
    *,
    context_length: int,
    patch_length: int,
    num_input_channels: int,
    d_model: int,
    num_layers: int,
    dropout: float,
    **fields: Any,
) -> TinyTimeMixerConfig:
    """A TTM config with non-overlapping patches; ``fields`` are passed through (forecast
    length, scaling, decoder and mixing modes: what the two models differ in)."""
    return TinyTimeMixerConfig(
        context_length=context_length,
        patch_length=patch_length,
        patch_stride=patch_length,
        num_input_channels=num_input_channels,
        d_model=d_model,
        num_layers=num_layers,
        dropout=dropout,
        **fields,
    )
