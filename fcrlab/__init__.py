"""fcrlab: First Contact Resolution from what customers do, not only from what agents tick.

The handful of names an analyst types; everything else lives in its module.
"""

__version__ = "0.1.0"

import atexit as _atexit
import gc as _gc
import os as _os
import sys as _sys
from typing import TYPE_CHECKING

# Before polars loads: let its allocator (jemalloc on Linux) keep freed memory for 10 s (the
# allocator's own default) instead of polars' 0.5 s. On millions of rows each step frees
# what the next one allocates; returned too soon, every page is faulted in afresh, which cost
# a quarter of the labelling time here (benchmarks/README.md). A value set by the user wins;
# once polars is loaded this has no effect, and other platforms ignore it.
if "polars" not in _sys.modules:
    _os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:10000,muzzy_decay_ms:0")

# At exit, Python's last garbage collections walk every object still alive; with scipy.stats
# loaded (the gaps) that took 0.25-0.3 s of every process. Freezing them first skips that walk:
# memory goes back to the system with the process, as it does anyway. Handlers registered
# later (weakref.finalize, temporary directories) still run first, and objects not in cycles
# are still freed as before.
_atexit.register(_gc.freeze)

if TYPE_CHECKING:  # what editors and type checkers see; at run time `__getattr__` below
    from fcrlab.engine.repeats import label_repeats
    from fcrlab.gaps import knowledge_gaps
    from fcrlab.online import deflection
    from fcrlab.params import Params, load_params
    from fcrlab.read.contacts import Contacts, load_contacts
    from fcrlab.read.web import load_page_topics, load_web_visits
    from fcrlab.sensitivity import window_sensitivity
    from fcrlab.summary import fcr_breakdown, fcr_summary

# The names below are loaded on first use (PEP 562), so that `from fcrlab import
# load_contacts` does not also import the deflection and gap analyses (numpy, their tables):
# ~0.1 s of every `fcrlab repeats` process.
_HOME = {
    "Contacts": "fcrlab.read.contacts",
    "Params": "fcrlab.params",
    "deflection": "fcrlab.online",
    "fcr_breakdown": "fcrlab.summary",
    "fcr_summary": "fcrlab.summary",
    "knowledge_gaps": "fcrlab.gaps",
    "label_repeats": "fcrlab.engine.repeats",
    "load_contacts": "fcrlab.read.contacts",
    "load_page_topics": "fcrlab.read.web",
    "load_params": "fcrlab.params",
    "load_web_visits": "fcrlab.read.web",
    "window_sensitivity": "fcrlab.sensitivity",
}


def __getattr__(name: str) -> object:
    if name not in _HOME:
        raise AttributeError(f"module 'fcrlab' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])


__all__ = [
    "Contacts",
    "Params",
    "__version__",
    "deflection",
    "fcr_breakdown",
    "fcr_summary",
    "knowledge_gaps",
    "label_repeats",
    "load_contacts",
    "load_page_topics",
    "load_params",
    "load_web_visits",
    "window_sensitivity",
]
