"""fcrlab: First Contact Resolution from what customers do, not only from what agents tick.

The handful of names an analyst types; everything else lives in its module (README: layout).
Importing fcrlab runs nothing else: the names below load on first use (PEP 562), so
`from fcrlab import load_contacts` does not also import the analyses.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what editors and type checkers see; at run time `__getattr__` below
    from fcrlab.engine.repeats import label_repeats
    from fcrlab.gaps import knowledge_gaps
    from fcrlab.online import deflection
    from fcrlab.params import Params, load_params
    from fcrlab.read.contacts import Contacts, load_contacts
    from fcrlab.read.web import load_page_topics, load_web_visits
    from fcrlab.sensitivity import window_sensitivity
    from fcrlab.summary import fcr_breakdown, fcr_summary

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
    if name == "__version__":  # from the package metadata, read when asked for
        from fcrlab.version import version

        return version()
    if name not in _HOME:
        raise AttributeError(f"module 'fcrlab' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME, "__version__"])


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
