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
from triage.rules.casefold import lower as casefold_lower

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


def _leaf(leaf: Leaf, col: str, params: list[str], lowered: str | None = None) -> str:
    if leaf.op == "regex":
        params.append(leaf.value)
        flags = "''" if leaf.case_sensitive else "'i'"
        return f"regexp_matches({col}, ?, {flags})"
    # The value is lowered as DuckDB's lower() lowers the field (not str.lower: 'İ' differs).
    value = leaf.value if leaf.case_sensitive else casefold_lower(leaf.value)
    subject = col if leaf.case_sensitive else (lowered or f"lower({col})")
    params.append(value)
    fn = {"contains": "contains", "prefix": "starts_with", "suffix": "ends_with"}.get(leaf.op)
    if fn:
        return f"{fn}({subject}, ?)"
    return f"({subject} = ?)"


def compile_condition(
    cond: Condition,
    column: Callable[[str], str],
    params: list[str],
    lower_column: Callable[[str], str] | None = None,
) -> str:
    """SQL for one condition; appends its parameters to ``params`` in placeholder order.

    ``lower_column(field)`` names an already lowered copy of a field (computed once per row
    rather than once per test); without it case-insensitive tests call ``lower()`` themselves.
    """
    if isinstance(cond, Leaf):
        needs_lower = lower_column and cond.op != "regex" and not cond.case_sensitive
        lowered = lower_column(cond.field) if needs_lower else None
        return _leaf(cond, column(cond.field), params, lowered)
    if isinstance(cond, Not):
        return f"(NOT {compile_condition(cond.item, column, params, lower_column)})"
    joiner = " AND " if isinstance(cond, All) else " OR "
    parts = (compile_condition(c, column, params, lower_column) for c in cond.items)
    return "(" + joiner.join(parts) + ")"


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


# ---------------------------------------------------------------------------------------------
# The fast form: the same first-match-wins answer, with most rules skipped for most rows.
#
# Why: a CASE of 200 rules evaluates up to 200 tests per row. Rules are cut into blocks of about
# BLOCK_SIZE in priority order; each block is gated by one combined regex per field that matches
# whenever any rule of the block could match (each rule contributes a *necessary* condition: its
# literal, or its regex). RE2 scans a row once for the whole alternation, and the rules inside
# run only on rows that pass. Blocks are tried in order (COALESCE), so priority is kept exactly.

BLOCK_SIZE = 40
_RE2_SPECIAL = set("\\.+*?()|[]{}^$#&~-")


def re2_escape(text: str) -> str:
    """``text`` as an RE2 pattern matching it literally (ASCII punctuation escaped)."""
    return "".join("\\" + ch if ch in _RE2_SPECIAL else ch for ch in text)


Gate = dict[tuple[str, bool], list[str]]  # (field, lowered) -> alternatives


def _necessary(cond: Condition) -> Gate | None:
    """Patterns one of which must match for ``cond`` to hold; None when none can be derived."""
    if isinstance(cond, Leaf):
        if cond.op == "regex":
            if "\\Q" in cond.value:  # \Q...\E would swallow the group's closing parenthesis
                return None
            piece = f"(?:{cond.value})" if cond.case_sensitive else f"(?i:{cond.value})"
            return {(cond.field, False): [piece]}
        # The literal the leaf itself tests (lowered exactly as the leaf lowers it).
        params: list[str] = []
        _leaf(cond, "x", params)
        return {(cond.field, not cond.case_sensitive): [re2_escape(params[-1])]}
    if isinstance(cond, Not):
        return None
    if isinstance(cond, All):
        options = [g for g in (_necessary(c) for c in cond.items) if g is not None]
        if not options:
            return None
        # The item with the fewest alternatives rejects the most rows.
        return min(options, key=lambda g: sum(len(v) for v in g.values()))
    merged: Gate = {}
    for c in cond.items:
        g = _necessary(c)
        if g is None:
            return None
        for k, v in g.items():
            merged.setdefault(k, []).extend(v)
    return merged


def _gate_valid(pattern: str) -> bool:
    import re2

    try:
        re2.compile(pattern)
    except Exception:  # re2.error
        return False
    return True


def compile_blocked(
    table: RuleTable,
    column: Callable[[str], str] = event_field_sql,
    lower_column: Callable[[str], str] | None = None,
    block_size: int = BLOCK_SIZE,
) -> CompiledSQL:
    """Like :func:`compile_table` (same result on every row), gated by blocks of rules."""
    reference = compile_table(table, column)
    if not table.rules:
        return reference
    blocks: list[tuple[Gate | None, list[int]]] = []
    for i, rule in enumerate(table.rules, start=1):
        gate = _necessary(rule.condition)
        if gate is not None and not all(_gate_valid("|".join(v)) for v in gate.values()):
            gate = None
        last = blocks[-1] if blocks else None
        if gate is None:
            if last is not None and last[0] is None:
                last[1].append(i)
            else:
                blocks.append((None, [i]))
            continue
        if last is None or last[0] is None or len(last[1]) >= block_size:
            blocks.append(({}, []))
            last = blocks[-1]
        for k, v in gate.items():
            last[0].setdefault(k, []).extend(v)
        last[1].append(i)

    params: list[str] = []
    parts = []
    for gate, idxs in blocks:
        tests = []
        if gate:
            for (field, lowered), pieces in gate.items():
                subject = lower_column(field) if lowered and lower_column else column(field)
                if lowered and not lower_column:
                    subject = f"lower({subject})"
                params.append("|".join(dict.fromkeys(pieces)))
                tests.append(f"regexp_matches({subject}, ?)")
        arms = []
        for i in idxs:
            cond = compile_condition(table.rules[i - 1].condition, column, params, lower_column)
            arms.append(f"WHEN {cond} THEN {i}")
        inner = "CASE " + " ".join(arms) + " END"
        parts.append(f"CASE WHEN {' OR '.join(tests)} THEN {inner} END" if tests else inner)
    expr = parts[0] if len(parts) == 1 else "coalesce(" + ", ".join(parts) + ")"
    return CompiledSQL(expr, params, reference.fields)
