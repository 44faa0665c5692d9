"""Everything that reads a file (or a frame as read) into fcrlab's canonical frames.

`files` (CSV, Parquet, Excel, globs; and writing result tables), `clock` (timestamps, local time
↔ UTC, office hours), `contacts` and `web` (the canonical contacts, page views and the page →
topic rule); `_columns` holds the column normalisers the two loaders share.
"""
