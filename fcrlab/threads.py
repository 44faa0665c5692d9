"""Work that runs on one core, started in a thread beside other polars work.

polars (and numpy, for a scatter) releases the GIL while it computes, so a single-threaded
step (local time → UTC, finding the labels' positions) overlaps the multi-threaded step the
caller does meanwhile, on a 2-core machine using the core that would otherwise wait.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["beside"]

_P = ParamSpec("_P")
_T = TypeVar("_T")


def beside(
    fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
) -> concurrent.futures.Future[_T]:
    """Start `fn(*args, **kwargs)` in a thread; `.result()` waits for it (and re-raises)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="fcrlab")
    try:
        return pool.submit(fn, *args, **kwargs)
    finally:
        pool.shutdown(wait=False)  # the thread ends with its one task
