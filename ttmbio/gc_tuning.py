"""Garbage-collector settings for a short-lived process that imports the torch stack."""

from __future__ import annotations

import atexit
import gc


def lighten_gc() -> None:
    """Spend less of a short-lived process's time in CPython's (3.11/3.12) cyclic collector.

    A stage imports torch, transformers and granite-tsfm: ~0.5 M long-lived objects that the
    collector keeps rescanning while they load (~1.5 s of an ~8 s import on 2 cores) and scans
    again in the collections at interpreter exit (~2 s). Collect young objects less often, and
    freeze every object after the exit handlers registered from here on (the command's own,
    and those of torch, zarr and multiprocessing, imported later) have run: the exit's
    collections then skip them and the memory goes back to the system whole.

    From then on no finalizer runs for an object still alive at exit: anything that must reach
    disk is closed explicitly (outputs are written and renamed before a command returns), by
    an exit handler, or by ``weakref.finalize`` (temporary folders).
    """
    gc.set_threshold(10_000, 10, 10)
    atexit.register(gc.freeze)
