"""fcrlab.take: gathers with null positions and the threaded scatter, against polars' own."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import fcrlab.speed as take_module
from fcrlab.speed import scatter, take, take_expr


def _case(n: int, k: int, seed: int) -> tuple[pl.Series, pl.Series]:
    rng = np.random.default_rng(seed)
    rows = pl.Series("row", rng.permutation(n)[:k].astype(np.uint32))
    values = pl.Series("v", rng.integers(0, 250, k).astype(np.uint8))
    return rows, values


@pytest.mark.parametrize("part", [1_000_000, 7, 1])  # one thread; several; one per position
def test_scatter_equals_polars_scatter(monkeypatch, part):
    monkeypatch.setattr(take_module, "_PART", part)
    for seed, (n, k) in enumerate([(1, 1), (10, 0), (1000, 1000), (5000, 3001)]):
        rows, values = _case(n, k, seed)
        expected = pl.zeros(n, dtype=pl.UInt8, eager=True).scatter(rows, values)
        got = scatter(n, rows, values)
        assert got.dtype == pl.UInt8 and got.name == "v"
        assert got.to_list() == expected.to_list()


@pytest.mark.parametrize("part", [1_000_000, 3])
def test_scatter_with_null_leaves_unwritten_positions_null(monkeypatch, part):
    monkeypatch.setattr(take_module, "_PART", part)
    rows, _ = _case(50, 20, 3)
    values = pl.int_range(20, eager=True, dtype=pl.UInt32)
    got = scatter(50, rows, values, null=2**32 - 1)
    expected = pl.Series([None] * 50, dtype=pl.UInt32).scatter(rows, values)
    assert got.to_list() == expected.to_list()
    assert got.null_count() == 30 and got.name == values.name


def test_scatter_refuses_nulls_and_text():
    with pytest.raises(ValueError, match="numbers without nulls"):
        scatter(3, pl.Series([0], dtype=pl.UInt32), pl.Series([None], dtype=pl.UInt8))
    with pytest.raises(ValueError, match="numbers without nulls"):
        scatter(3, pl.Series([0], dtype=pl.UInt32), pl.Series(["a"]))
    with pytest.raises(ValueError, match="numbers without nulls"):
        scatter(3, pl.Series([None], dtype=pl.UInt32), pl.Series([1], dtype=pl.UInt8))


def test_take_with_null_positions_gives_nulls_there():
    values = pl.concat([pl.Series("x", ["a", "b"]), pl.Series("x", ["c"])], rechunk=False)
    positions = pl.Series([2, None, 0], dtype=pl.UInt32)
    assert take(values, positions).to_list() == ["c", None, "a"]
    assert take(values, positions.fill_null(1)).to_list() == ["c", "b", "a"]
    frame = pl.DataFrame({"x": ["a", "b", "c"]})
    assert frame.select(take_expr(pl.col("x"), positions))["x"].to_list() == ["c", None, "a"]
