"""``from triage.lint import lint`` (the documented path) for :mod:`triage.analysis.lint`."""

from triage.analysis.lint import SEVERITIES, Finding, lint

__all__ = ["SEVERITIES", "Finding", "lint"]
