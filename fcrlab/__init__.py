"""fcrlab: First Contact Resolution from what customers do, not only from what agents tick.

The handful of names an analyst types; everything else lives in its module.
"""

__version__ = "0.1.0"

import os as _os
import sys as _sys

# Before polars loads: let its allocator (jemalloc on Linux) keep freed memory for 10 s (the
# allocator's own default) instead of polars' 0.5 s. On millions of rows each step frees
# what the next one allocates; returned too soon, every page is faulted in afresh, which cost
# a quarter of the labelling time here (benchmarks/README.md). A value set by the user wins;
# once polars is loaded this has no effect, and other platforms ignore it.
if "polars" not in _sys.modules:
    _os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:10000,muzzy_decay_ms:0")

from fcrlab.deflection import deflection
from fcrlab.gaps import knowledge_gaps
from fcrlab.io import Contacts, load_contacts
from fcrlab.params import Params, load_params
from fcrlab.repeats import label_repeats
from fcrlab.summary import fcr_breakdown, fcr_summary, window_sensitivity

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
    "load_params",
    "window_sensitivity",
]
