"""Compile one rule table to other targets: the table stays the only place a rule is written.

``export(rules, to=TARGET)`` returns an :class:`Export` (``text``, ``notes``). Targets:
``typescript``, ``rust``, ``json``, ``sentry-fingerprint`` and ``clickhouse-sql``.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from triage.rules import RuleTable, load
from triage.targets.base import Export, ExportError

# target -> (module, compiler): a compiler is imported when its target is asked for.
TARGETS: dict[str, tuple[str, str]] = {
    "typescript": ("triage.targets.typescript", "export_typescript"),
    "rust": ("triage.targets.rust", "export_rust"),
    "json": ("triage.targets.json_table", "export_json"),
    "sentry-fingerprint": ("triage.targets.sentry_fingerprint", "export_sentry_fingerprint"),
    "clickhouse-sql": ("triage.targets.clickhouse", "export_clickhouse_sql"),
}
EXTENSIONS = {
    "typescript": ".ts",
    "rust": ".rs",
    "json": ".json",
    "sentry-fingerprint": ".txt",
    "clickhouse-sql": ".sql",
}


def export(
    rules: str | Path | RuleTable = "openhuman", to: str = "json", output: str | Path | None = None
) -> Export:
    """Compile ``rules`` (a built-in name, a path, or a RuleTable) for target ``to``; write the
    text to ``output`` when given. Raises ExportError naming each rule a target refuses."""
    if to not in TARGETS:
        raise ValueError(f"unknown export target {to!r} (known: {', '.join(TARGETS)})")
    module, name = TARGETS[to]
    result = getattr(import_module(module), name)(load(rules))
    if output is not None:
        Path(output).write_text(result.text, encoding="utf-8")
    return result


__all__ = ["EXTENSIONS", "TARGETS", "Export", "ExportError", "export"]
