"""sentry-triage: re-classify past Sentry events with one shared rule table.

The package root is lazy (PEP 562): ``import triage.sentry`` in an application, or ``triage
--version`` in a shell, must not pay for duckdb, pandas or matplotlib. Each public name below is
imported from its stage the first time it is used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from triage.common.version import __version__

# public name -> (module, attribute)
_PUBLIC = {
    "Store": ("triage.api", "Store"),
    "demo_paths": ("triage.api", "demo_paths"),
    "open": ("triage.api", "open"),
    "run": ("triage.api", "run"),
    "Bursts": ("triage.analysis.bursts", "Bursts"),
    "Report": ("triage.analysis.report", "Report"),
    "Export": ("triage.targets", "Export"),
    "ExportError": ("triage.targets", "ExportError"),
    "export": ("triage.targets", "export"),
    "RuleError": ("triage.rules", "RuleError"),
    "RuleTable": ("triage.rules", "RuleTable"),
    "load_rules": ("triage.rules", "load"),
}

__all__ = sorted(_PUBLIC)

if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from triage.analysis.bursts import Bursts
    from triage.analysis.report import Report
    from triage.api import Store, demo_paths, open, run  # noqa: A004
    from triage.rules import RuleError, RuleTable
    from triage.rules import load as load_rules
    from triage.targets import Export, ExportError, export


def __getattr__(name: str):
    try:
        module, attr = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'triage' has no attribute {name!r}") from None
    value = getattr(import_module(module), attr)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
