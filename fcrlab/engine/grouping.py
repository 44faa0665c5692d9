"""Rows in group order: each group's rows together, ordered within the group. The one hash sort
with an exact fallback, for every step that needs a customer's rows in order: the repeat rules
(SPEC §2 rule 6), the follow-up questions (G6) and the web sweeps (W2, W5).

Sorting on the key strings (customer ids, topics) is several times slower than on numbers, so a
group is a 64-bit hash of its keys and the rows are sorted on (hash, the caller's number). Two
groups could share a hash and then interleave; a second, independent hash catches that, since
within a run of equal first hashes the second must not change. If it does (odds ~2^-64 per pair
of groups), the same sort runs on exact codes of the keys instead. Ties in the caller's number
are settled by a string (rule 6's `contact_id`) only where they occur.

`FORCE_EXACT` is the one test hook: set, every caller takes the exact path.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

__all__ = ["FORCE_EXACT", "Keys", "sort_by_group"]

FORCE_EXACT = False

# One seed pair per key position: (first hash, second hash). Keys hash to the xor of their
# columns' hashes, each with its position's seed, so (a, b) and (b, a) differ.
_SEEDS = ((0x51ED1, 0x51ED2), (0x51ED3, 0x51ED4), (0x51ED5, 0x51ED6))


class Keys:
    """The key columns of some rows (a customer, or a customer and a topic key); null is a key
    value of its own. The strings are only looked at to hash them, or on the exact path."""

    def __init__(self, *columns: pl.Series) -> None:
        if not 1 <= len(columns) <= len(_SEEDS):
            raise ValueError(f"a group has 1 to {len(_SEEDS)} key columns")
        self._values: Callable[[], list[pl.Series]] = lambda: list(columns)
        self._length = columns[0].len()
        self._hashes: tuple[pl.Series, pl.Series] | None = None

    @classmethod
    def _derived(
        cls,
        values: Callable[[], list[pl.Series]],
        length: int,
        hashes: tuple[pl.Series, pl.Series],
    ) -> Keys:
        keys = cls.__new__(cls)
        keys._values, keys._length, keys._hashes = values, length, hashes
        return keys

    def _hashed(self) -> tuple[pl.Series, pl.Series]:
        if self._hashes is None:
            columns = pl.DataFrame({f"k{i}": c for i, c in enumerate(self._values())})

            def hashed(which: int) -> pl.Expr:
                value = pl.col("k0").hash(seed=_SEEDS[0][which])
                for position in range(1, columns.width):
                    value = value ^ pl.col(f"k{position}").hash(seed=_SEEDS[position][which])
                return value

            # One select: the two hashes are worked out side by side, on both cores.
            pair = columns.select(first=hashed(0), second=hashed(1))
            self._hashes = (pair["first"], pair["second"])
        return self._hashes

    @property
    def first(self) -> pl.Series:
        """The first 64-bit hash of each row's keys."""
        return self._hashed()[0]

    @property
    def second(self) -> pl.Series:
        """An independent second hash: it tells two groups apart that share the first."""
        return self._hashed()[1]

    def __len__(self) -> int:
        return self._length

    def gather(self, rows: pl.Series) -> Keys:
        """The keys of the rows at `rows` (hashes kept; the strings gathered only if needed)."""
        values = self._values
        hashes = (self.first.gather(rows), self.second.gather(rows))
        return Keys._derived(lambda: [c.gather(rows) for c in values()], rows.len(), hashes)

    def exact(self) -> pl.Series:
        """A code per row, equal exactly when the rows' key values are equal."""
        frame = pl.DataFrame({f"k{i}": column for i, column in enumerate(self._values())})
        return frame.select(pl.struct(pl.all()).rank("dense").cast(pl.UInt64)).to_series()

    @staticmethod
    def concat(first: Keys, second: Keys) -> Keys:
        """The keys of `first`'s rows followed by `second`'s (e.g. calls, then page views)."""
        first_values, second_values = first._values, second._values  # not the objects: their
        # hashes need not stay alive beside the concatenated ones

        def values() -> list[pl.Series]:
            pairs = zip(first_values(), second_values(), strict=True)
            return [pl.concat([a, b], rechunk=True) for a, b in pairs]

        hashes = (
            pl.concat([first.first, second.first], rechunk=True),
            pl.concat([first.second, second.second], rechunk=True),
        )
        return Keys._derived(values, len(first) + len(second), hashes)


def sort_by_group(
    keys: Keys, by: pl.Series, tie: Callable[[pl.Series], pl.Series] | None = None
) -> pl.DataFrame:
    """The rows in group order: each group contiguous, ordered by `by` (integers, e.g. a start
    in µs) within it; rows with equal `by` in one group are ordered by the strings `tie` gives
    for their positions (ascending), or in no fixed order without `tie`.

    Returns `row` (UInt32 position of the row in `keys`), `by` in that order, `group` (equal
    exactly within one group) and `same` (the row before is of the same group).
    """
    if not FORCE_EXACT:
        order = _sorted(keys.first, by, tie, keys.second)
        if _one_group_per_hash(order):
            return order.drop("second")
    return _sorted(keys.exact(), by, tie)


def _sorted(
    group: pl.Series,
    by: pl.Series,
    tie: Callable[[pl.Series], pl.Series] | None,
    second: pl.Series | None = None,
) -> pl.DataFrame:
    rows = pl.int_range(group.len(), eager=True, dtype=pl.UInt32).rename("row")
    columns = [rows, group.rename("group"), by.rename("by")]
    if second is not None:  # carried through the sort: cheaper than a gather afterwards
        columns.append(second.rename("second"))
    order = pl.DataFrame(columns).sort("group", "by")
    if tie is not None:
        order = _settle_ties(order, tie)
    same = (pl.col("group") == pl.col("group").shift()).fill_null(False)
    return order.with_columns(same=same)


def _settle_ties(order: pl.DataFrame, tie: Callable[[pl.Series], pl.Series]) -> pl.DataFrame:
    """Within each run of rows with equal (group, by), the rows in ascending `tie` order. Only
    the tied rows' strings are looked at: ties are rare, strings are slow."""
    group, by = pl.col("group"), pl.col("by")
    tied = ((group == group.shift()) & (by == by.shift())).fill_null(False)
    if not order.lazy().select(tied.any()).collect().item():
        return order
    marks = order.select(in_run=tied | tied.shift(-1).fill_null(False), run=(~tied).cum_sum())
    # A run occupies consecutive positions, runs in ascending order: the rows sorted by
    # (run, tie) go back, in that order, to the run's positions sorted ascending.
    positions = marks["in_run"].arg_true()
    runs = pl.DataFrame({"run": marks["run"].gather(positions), "row": order["row"][positions]})
    settled = runs.with_columns(tie=tie(runs["row"])).sort("run", "tie", nulls_last=True)
    return order.with_columns(order["row"].scatter(positions, settled["row"]))


def _one_group_per_hash(order: pl.DataFrame) -> bool:
    """No two groups share a first hash: within each run of equal first hashes (in sorted
    order) the second hash never changes."""
    group, second = pl.col("group"), pl.col("second")
    new_group = (group != group.shift()).fill_null(True)
    new_pair = (new_group | (second != second.shift())).fill_null(True)
    runs = order.lazy().select(groups=new_group.sum(), pairs=new_pair.sum()).collect().row(0)
    return runs[0] == runs[1]
