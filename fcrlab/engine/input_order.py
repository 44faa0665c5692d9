"""Labels back to input order: each row read takes the labels of its contact by position.

The rules work on the taking-part contacts in group order; `fcrlab repeats` shows one row per row
read, in input order (decisions D10). Going back costs one scatter of positions and a gather per
label (null where a row takes no part). When every label asked for is a flag they go back packed
in one byte per row instead: one scatter, no gathers (0.75 → 0.4 s at 10M rows).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from fcrlab.speed import scatter, take_expr

__all__ = ["FLAG_LABELS", "flags_in_input_order", "labels_in_input_order", "positions"]

_NONE = 2**32 - 1  # no position: a frame has fewer rows than this

# A flag's bit, and for `first_contact_fix` (null on repeats and pending episodes) a second
# bit: known. Every row with labels has the `counted` bit.
_FLAG_BITS = {"is_repeat": 2, "pending": 4, "in_period": 8, "first_contact_fix": 16}
_COUNTED_BIT, _FIX_KNOWN_BIT = 1, 32
FLAG_LABELS = tuple(_FLAG_BITS)


def positions(rows: pl.Series, n: int) -> pl.Series:
    """For each of `n` frame rows, its position in `rows` (null when absent)."""
    return scatter(n, rows, pl.int_range(rows.len(), eager=True, dtype=pl.UInt32), null=_NONE)


def flags_in_input_order(labels: pl.DataFrame, keep: Sequence[str], n: int) -> pl.DataFrame:
    """`counted` and the flag labels `keep` of every frame row (`labels` has `row`, the frame
    position of each contact with labels), null where not counted."""
    byte = pl.repeat(pl.lit(_COUNTED_BIT, dtype=pl.UInt8), pl.len())
    for c in keep:
        byte = byte + pl.col(c).fill_null(False).cast(pl.UInt8) * _FLAG_BITS[c]
        if c == "first_contact_fix":
            byte = byte + pl.col(c).is_not_null().cast(pl.UInt8) * _FIX_KNOWN_BIT
    packed = scatter(n, labels["row"], labels.lazy().select(byte).collect().to_series())

    def bit(value: int) -> pl.Expr:
        return (pl.lit(packed) // value) % 2 == 1

    counted = bit(_COUNTED_BIT)
    flags = {c: pl.when(counted).then(bit(_FLAG_BITS[c])) for c in keep}
    if "first_contact_fix" in flags:
        known = counted & bit(_FIX_KNOWN_BIT)
        flags["first_contact_fix"] = pl.when(known).then(bit(_FLAG_BITS["first_contact_fix"]))
    return pl.select(counted=counted, **flags)


def labels_in_input_order(
    labels: pl.DataFrame, keep: Sequence[str], n: int, where: pl.Series | None = None
) -> pl.DataFrame:
    """`counted` and the labels `keep` of every frame row, null where not counted. `where` are
    the rows' positions in `labels` when already found (`positions(labels["row"], n)`)."""
    if labels.height and set(keep) <= set(_FLAG_BITS):
        return flags_in_input_order(labels, keep, n)
    where = positions(labels["row"], n) if where is None else where
    if labels.height:
        taken = labels.select(take_expr(pl.col(c), where) for c in keep)
    else:  # nothing counted: every label is null
        taken = labels.select(pl.col(c).gather(where) for c in keep)
    return taken.with_columns(counted=where.is_not_null())
