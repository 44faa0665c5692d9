"""fcrlab: First Contact Resolution from what customers do, not only from what agents tick.

The handful of names an analyst types; everything else lives in its module.
"""

__version__ = "0.1.0"

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
