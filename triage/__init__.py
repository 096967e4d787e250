"""sentry-triage: re-classify past Sentry events with one shared rule table."""

from triage.api import Store, demo_paths, open, run  # noqa: A004
from triage.bursts import Bursts
from triage.exporters import Export, ExportError, export
from triage.report import Report
from triage.rules import RuleError, RuleTable
from triage.rules import load as load_rules

__all__ = [
    "Bursts",
    "Export",
    "ExportError",
    "Report",
    "RuleError",
    "RuleTable",
    "Store",
    "demo_paths",
    "export",
    "load_rules",
    "open",
    "run",
]
__version__ = "0.1.0"
