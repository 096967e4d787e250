"""``triage.classify.classify`` (the documented path) for :mod:`triage.analysis.classify`."""

from triage.analysis.classify import classify

__all__ = ["classify"]
