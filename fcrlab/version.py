"""fcrlab's version, read from the installed package's metadata (`pyproject.toml` is the truth).

Read on first use, not on import: only a JSON summary and `--version` need it.
"""

from __future__ import annotations

import functools

__all__ = ["version"]


@functools.cache
def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("fcrlab")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"
