"""Compile a rule table to one DuckDB ``CASE`` expression: table in, SQL and parameters out.

Patterns never enter the SQL text: every value is a ``?`` parameter, and matching uses
``contains``/``starts_with``/``ends_with``/``regexp_matches`` rather than ``LIKE``, which would read
``_`` and ``%`` in a rule as wildcards. A missing field reads as the empty string, the same as in
the live hook and the generated classifiers. Case-insensitive tests lower both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from triage.rules import All, Condition, Leaf, Not, RuleTable, fields_of

# How each rule field reads from the events table. `message` is the event's text: the formatted log
# message when it has one, else the raised exception's value.
EVENT_FIELDS: dict[str, str] = {
    "message": "coalesce(message, exc_value, '')",
    "exception.type": "coalesce(exc_type, '')",
    "exception.value": "coalesce(exc_value, '')",
    "logger": "coalesce(logger, '')",
    "level": "coalesce(level, '')",
    "platform": "coalesce(platform, '')",
    "transaction": "coalesce(\"transaction\", culprit, '')",
    "release": "coalesce(\"release\", '')",
    "environment": "coalesce(environment, '')",
    "project": "coalesce(project, '')",
}


def event_field_sql(field: str) -> str:
    """SQL that reads one rule field from a row of ``events`` (never NULL)."""
    if field in EVENT_FIELDS:
        return EVENT_FIELDS[field]
    name = field.removeprefix("tags.").replace("'", "''")
    return f"coalesce(tags['{name}'], '')"


@dataclass(frozen=True)
class CompiledSQL:
    """A ``CASE`` yielding the 1-based index of the first matching rule (NULL when none)."""

    expr: str
    params: list[str]
    fields: list[str]


def _leaf(leaf: Leaf, col: str, params: list[str]) -> str:
    if leaf.op == "regex":
        params.append(leaf.value)
        flags = "''" if leaf.case_sensitive else "'i'"
        return f"regexp_matches({col}, ?, {flags})"
    value = leaf.value if leaf.case_sensitive else leaf.value.lower()
    subject = col if leaf.case_sensitive else f"lower({col})"
    params.append(value)
    fn = {"contains": "contains", "prefix": "starts_with", "suffix": "ends_with"}.get(leaf.op)
    if fn:
        return f"{fn}({subject}, ?)"
    return f"({subject} = ?)"


def compile_condition(cond: Condition, column: Callable[[str], str], params: list[str]) -> str:
    """SQL for one condition; appends its parameters to ``params`` in placeholder order."""
    if isinstance(cond, Leaf):
        return _leaf(cond, column(cond.field), params)
    if isinstance(cond, Not):
        return f"(NOT {compile_condition(cond.item, column, params)})"
    joiner = " AND " if isinstance(cond, All) else " OR "
    return "(" + joiner.join(compile_condition(c, column, params) for c in cond.items) + ")"


def compile_table(table: RuleTable, column: Callable[[str], str] = event_field_sql) -> CompiledSQL:
    """The first-match-wins ``CASE`` over every rule of the table."""
    params: list[str] = []
    arms = []
    fields: list[str] = []
    for i, rule in enumerate(table.rules, start=1):
        arms.append(f"WHEN {compile_condition(rule.condition, column, params)} THEN {i}")
        for f in fields_of(rule.condition):
            if f not in fields:
                fields.append(f)
    if not arms:
        return CompiledSQL("CAST(NULL AS INTEGER)", [], [])
    return CompiledSQL("CASE " + " ".join(arms) + " END", params, fields)
