"""Speed helpers: the only module that knows polars' slow paths, behind plain names.

- `beside`: work that runs on one core, started in a thread beside other polars work. polars
  (and numpy, for a scatter) releases the GIL while it computes, so a single-threaded step
  (local time → UTC, finding the labels' positions) overlaps the multi-threaded step the caller
  does meanwhile, on a 2-core machine using the core that would otherwise wait.
- `take`, `take_expr`: polars takes a slow path for a gather whose indices hold nulls (about
  10× slower on millions of rows), and a gather from a column split in chunks (one per Parquet
  row group) is slow too. Both gather at position 0 where the index is null and mask after.
- `scatter`: a scatter to random positions runs on one core in polars (0.45 s for 10M bytes
  here); this writes disjoint parts of the positions from several threads at once.

None of them starts anything on import; a thread lives only as long as its one task.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import polars as pl

__all__ = ["beside", "scatter", "take", "take_expr"]

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


_PART = 1_000_000  # positions per thread, at least


def take_expr(values: pl.Expr, positions: pl.Series) -> pl.Expr:
    """`values` at `positions`, null where a position is null."""
    return pl.when(pl.lit(positions).is_not_null()).then(values.gather(positions.fill_null(0)))


def take(values: pl.Series, positions: pl.Series) -> pl.Series:
    """The Series `values` at `positions`, null where a position is null."""
    if positions.null_count() == 0:
        return values.rechunk().gather(positions)
    name = values.name
    return pl.select(take_expr(pl.lit(values.rechunk()), positions)).to_series().rename(name)


def scatter(n: int, rows: pl.Series, values: pl.Series, null: int | None = None) -> pl.Series:
    """`n` zeros with `values` (numbers, no nulls) written at `rows` (distinct positions);
    with `null`, every position not written is null instead, `null` being a value that
    `values` never holds."""
    import numpy as np  # imported here: `import fcrlab.repeats` stays free of numpy

    if values.null_count() or rows.null_count() or not values.dtype.is_numeric():
        raise ValueError("scatter writes numbers without nulls")
    data = values.to_numpy()
    out = np.zeros(n, dtype=data.dtype) if null is None else np.full(n, null, dtype=data.dtype)
    index = rows.to_numpy().astype(np.intp)
    parts = max(1, min(pl.thread_pool_size(), len(index) // _PART))
    bounds = [len(index) * i // parts for i in range(parts + 1)]

    def write(part: int) -> None:
        a, b = bounds[part], bounds[part + 1]
        out[index[a:b]] = data[a:b]  # numpy lets go of the GIL while it writes

    # The positions are distinct, so the parts never write the same element.
    others = [beside(write, part) for part in range(1, parts)]
    write(0)
    for other in others:
        other.result()
    result = pl.Series(values.name, out, dtype=values.dtype)
    if null is None:
        return result
    written = pl.when(pl.lit(result) != null).then(pl.lit(result))
    return pl.select(written).to_series().rename(values.name)
