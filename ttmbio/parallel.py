"""Ordered parallel map with bounded memory.

Results come back in input order, so outputs do not depend on the worker count; at most
``ahead`` tasks are in flight, so a slow early task cannot make later results pile up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int, ahead: int | None = None
) -> Iterator[R]:
    """``map(fn, items)`` over ``workers`` processes (in-process when ``workers`` is 1)."""
    if workers <= 1:
        yield from map(fn, items)
        return
    ahead = ahead or 2 * workers
    source = iter(items)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[R]] = deque(pool.submit(fn, x) for x in islice(source, ahead))
        while pending:
            result = pending.popleft().result()
            pending.extend(pool.submit(fn, x) for x in islice(source, 1))
            yield result
