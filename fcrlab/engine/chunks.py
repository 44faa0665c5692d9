"""Labelling more contacts than fit in memory: chunks by a hash of the customer.

Every rule of SPEC §2 looks only at one customer's contacts, so a customer's contacts never
straddle a chunk and each chunk is labelled on its own. Two things are global and are settled
first, in passes that read only one column: the default `observed_until` (the latest start of any
row) and the uniqueness of `contact_id` across customers.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import polars as pl

from fcrlab.engine.repeats import LABEL_COLUMNS, REASONS, label_repeats, observed_until
from fcrlab.errors import InputError
from fcrlab.params import Params
from fcrlab.read.contacts import CONTACT_COLUMNS, contacts_from_frame, start_instants
from fcrlab.read.files import Locator, check_columns, expand, expected, text_of

__all__ = ["label_repeats_in_chunks"]


def _customer_chunk(chunks: int) -> pl.Expr:
    # The id as the loader will read it (trimmed text), so " K1" and "K1" share a chunk.
    customer = pl.col("customer_id").cast(pl.String).str.strip_chars()
    return (customer.hash(seed=17) % chunks).cast(pl.UInt32)


def _scan(files: list[str], params: Params) -> pl.LazyFrame:
    """The files as one lazy frame by the reading rules of a glob (decisions I2): each file
    has the columns every file must have; a column typed differently in different files is
    text in all of them; `columns:` applied."""
    scans = []
    for file in files:
        try:
            scan = pl.scan_parquet(file)
            schema = scan.collect_schema()
        except (pl.exceptions.PolarsError, OSError):
            raise InputError("cannot be read as Parquet", file=file) from None
        required = expected(params, CONTACT_COLUMNS, ("contact_id", "customer_id", "started_at"))
        check_columns(schema.names(), required, file)
        scans.append((scan, schema))
    types: dict[str, set[pl.DataType]] = {}
    for _, schema in scans:
        for name, dtype in schema.items():
            types.setdefault(name, set()).add(dtype)
    mixed = {name for name, found in types.items() if len(found) > 1}
    parts = [
        scan.with_columns(text_of(c, t) for c, t in schema.items() if c in mixed)
        for scan, schema in scans
    ]
    return pl.concat(parts, how="diagonal_relaxed").rename(params.column_map(), strict=False)


def label_repeats_in_chunks(
    source: str | Path, out: str | Path, params: Params | None = None, chunks: int = 16
) -> dict[str, int]:
    """Label a large Parquet input (file or glob) chunk by chunk into one Parquet output.

    Same labels as `label_repeats` on the whole input; peak memory is about that of one chunk.
    Returns the ledger: rows read, rows used and rows left out per reason.
    """
    params = params or Params()
    files = expand(source)
    if any(Path(f).suffix.lower() not in (".parquet", ".pq") for f in files):
        raise InputError(
            "chunked labelling reads Parquet only (convert the export first)", file=str(source)
        )
    scan = _scan(files, params)
    rows_per_file = [pl.scan_parquet(f).select(pl.len()).collect().item() for f in files]
    where = Locator(files, rows_per_file, str(source))
    chunks = max(1, min(chunks, sum(rows_per_file)))  # more chunks than rows only rescans

    if params.observed_until is None:
        # SPEC §2 rule 9, settled over every chunk: the latest start of any row read. Passed on
        # zone-aware, so a last contact in the repeated autumn hour keeps its exact instant.
        starts = start_instants(scan.select("started_at").collect(engine="streaming"), params)
        until = observed_until(starts.to_frame("started_at"), params)
        params = params.replace(observed_until=until)

    # Conflicting ids of different customers would fall into different chunks: check globally.
    ids = scan.select(pl.col("contact_id").cast(pl.String).str.strip_chars()).collect(
        engine="streaming"
    )["contact_id"]
    if ids.hash(seed=3).n_unique() != ids.len():
        repeated = ids.is_duplicated()
        dupes = (
            scan.with_row_index("source_row", offset=1)
            .filter(
                pl.col("contact_id")
                .cast(pl.String)
                .str.strip_chars()
                .is_in(ids.filter(repeated).implode())
            )
            .collect()
        )
        customers = dupes.group_by(pl.col("contact_id").cast(pl.String).str.strip_chars()).agg(
            pl.col("customer_id").cast(pl.String).str.strip_chars().n_unique().alias("customers"),
            pl.col("source_row"),
        )
        conflict = customers.filter(pl.col("customers") > 1).sort("contact_id").head(1)
        if conflict.height:
            row = conflict.row(0, named=True)
            where.raise_conflicting_id(
                row["contact_id"], sorted(row["source_row"]), "for different customers"
            )
        del dupes, customers
    del ids

    ledger = dict.fromkeys(REASONS, 0)
    rows_read = 0
    out = Path(out)
    parts = Path(
        tempfile.mkdtemp(prefix=".fcrlab-parts-", dir=out.parent if str(out.parent) else ".")
    )
    try:
        numbered = scan.with_row_index("source_row", offset=1).with_columns(
            __chunk=_customer_chunk(chunks)
        )
        for chunk in range(chunks):
            raw = (
                numbered.filter(pl.col("__chunk") == chunk)
                .drop("__chunk")
                .collect(engine="streaming")
            )
            if raw.height == 0:
                continue
            rows = raw["source_row"].cast(pl.Int64)
            contacts = contacts_from_frame(
                raw.drop("source_row"),
                params,
                source=str(source),
                files=files,
                rows_per_file=rows_per_file,
                source_rows=rows,
            )
            labels = label_repeats(contacts, params).select(LABEL_COLUMNS)
            rows_read += labels.height
            counts = labels["excluded_reason"].value_counts()
            for reason, n in counts.drop_nulls().iter_rows():
                ledger[reason] += n
            labels.write_parquet(
                parts / f"part-{chunk:04d}.parquet", compression="lz4", statistics=False
            )
            del raw, contacts, labels
        pl.scan_parquet(parts / "*.parquet").sink_parquet(out, compression="lz4", statistics=False)
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    return {"rows_read": rows_read, "rows_used": rows_read - sum(ledger.values()), **ledger}
