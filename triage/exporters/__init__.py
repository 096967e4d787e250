"""Compile one rule table to other targets: the table stays the only place a rule is written.

``export(rules, to=TARGET)`` returns an :class:`Export` (``text``, ``notes``). Targets:
``typescript``, ``rust``, ``json`` and ``sentry-fingerprint``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from triage.exporters.common import Export, ExportError
from triage.exporters.json_table import export_json
from triage.exporters.rust import export_rust
from triage.exporters.sentry_fingerprint import export_sentry_fingerprint
from triage.exporters.typescript import export_typescript
from triage.rules import RuleTable, load

TARGETS: dict[str, Callable[[RuleTable], Export]] = {
    "typescript": export_typescript,
    "rust": export_rust,
    "json": export_json,
    "sentry-fingerprint": export_sentry_fingerprint,
}
EXTENSIONS = {"typescript": ".ts", "rust": ".rs", "json": ".json", "sentry-fingerprint": ".txt"}


def export(
    rules: str | Path | RuleTable = "openhuman", to: str = "json", output: str | Path | None = None
) -> Export:
    """Compile ``rules`` (a built-in name, a path, or a RuleTable) for target ``to``; write the
    text to ``output`` when given. Raises ExportError naming each rule a target refuses."""
    if to not in TARGETS:
        raise ValueError(f"unknown export target {to!r} (known: {', '.join(TARGETS)})")
    result = TARGETS[to](load(rules))
    if output is not None:
        Path(output).write_text(result.text, encoding="utf-8")
    return result


__all__ = ["EXTENSIONS", "TARGETS", "Export", "ExportError", "export"]
