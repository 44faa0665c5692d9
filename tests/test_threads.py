"""`fcrlab.threads.beside`: a result computed in a thread is the same as computed in line, and
an error raised there reaches the caller."""

from __future__ import annotations

import threading

import polars as pl
import pytest

from fcrlab.speed import beside


def test_beside_runs_in_another_thread_and_returns_the_result():
    values = pl.Series([3, 1, 2])
    done = beside(lambda s: (threading.current_thread().name, s.sort()), values)
    name, result = done.result()
    assert name != threading.current_thread().name
    assert result.to_list() == [1, 2, 3]


def test_beside_reraises_in_the_caller():
    def fail() -> None:
        raise ValueError("unreadable")

    with pytest.raises(ValueError, match="unreadable"):
        beside(fail).result()
