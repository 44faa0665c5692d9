"""Pseudonymisation: customer ids never appear in clear in a report (SPEC §4).

Ids are replaced by a keyed hash (BLAKE2b with the salt as key): stable within a run, so every
analysis still links a customer's contacts and page views, and not reversible without the salt.
The salt comes from the environment variable named by `salt_env`, never from a committed file;
without one the run says so and uses a random salt (links still hold within that run).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
import warnings
from typing import TypeVar

import polars as pl

from fcrlab.params import Params

__all__ = ["SAMPLE_SALT", "pseudonymise", "pseudonymise_ids", "salt_from_env"]

# A fixed, public salt for the bundled synthetic sample only (reproducible notebook outputs).
SAMPLE_SALT = "fcrlab-public-sample-salt"

_T = TypeVar("_T")


def salt_from_env(params: Params) -> str:
    """The salt from the environment variable `params.salt_env`, or a random one (with a
    warning, so the run says so)."""
    salt = os.environ.get(params.salt_env, "")
    if salt:
        return salt
    warnings.warn(
        f"no pseudonymisation salt in ${params.salt_env}: using a random salt for this run "
        "(ids are linked within the run but differ between runs)",
        stacklevel=2,
    )
    return secrets.token_hex(16)


def _key(salt: str) -> bytes:
    """BLAKE2b's key from the whole salt (decisions I10): the salt itself up to BLAKE2b's 64
    bytes, else the 64-byte digest of all of it, so salts differing late still differ."""
    data = salt.encode("utf-8")
    if len(data) <= 64:
        return data
    return hashlib.blake2b(data, digest_size=64, person=b"fcrlab-salt").digest()


def pseudonymise_ids(ids: pl.Series, salt: str, prefix: str = "p") -> pl.Series:
    """Replace each distinct id by `prefix` + 16 hex digits of BLAKE2b(id, key=salt)."""
    key = _key(salt)
    distinct = ids.drop_nulls().unique()
    mapping = {
        value: prefix + hashlib.blake2b(value.encode("utf-8"), key=key, digest_size=8).hexdigest()
        for value in distinct.to_list()
    }
    return ids.replace_strict(mapping, default=None, return_dtype=pl.String)


def pseudonymise(data: _T, params: Params, salt: str | None = None) -> _T:
    """The same contacts or web visits with `customer_id` pseudonymised (and `agent_id` when
    `pseudonymise_agents`). Works on any loader result with a `.frame`."""
    salt = salt if salt is not None else salt_from_env(params)
    frame: pl.DataFrame = data.frame  # type: ignore[attr-defined]
    columns = {"customer_id": "k"}
    if params.pseudonymise_agents:
        columns["agent_id"] = "a"
    updates = [
        pseudonymise_ids(frame[column], salt, prefix).alias(column)
        for column, prefix in columns.items()
        if column in frame.columns
    ]
    return dataclasses.replace(data, frame=frame.with_columns(updates))  # type: ignore[type-var]
