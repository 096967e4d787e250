"""Compile a rule table to one DuckDB ``CASE`` expression: table in, SQL and parameters out.

Patterns never enter the SQL text: every value is a ``?`` parameter, and matching uses
``contains``/``starts_with``/``ends_with``/``regexp_matches`` rather than ``LIKE``, which would read
``_`` and ``%`` in a rule as wildcards. A missing field reads as the empty string, the same as in
the live hook and the generated classifiers. Case-insensitive tests lower both sides.

Adding a SQL dialect: subclass :class:`SQL` and override only what your engine spells
differently, then pass the class as ``dialect=`` to :func:`compile_table` /
:func:`compile_blocked` (or call its methods directly):

- ``OPERATORS``: ``contains``/``prefix``/``suffix``/``equals`` as templates over ``{subject}``
  and ``{value}`` (ClickHouse: ``position({subject}, {value}) > 0``, ``startsWith``, ...);
- ``LOWER``: the lowering expression around a field (``lowerUTF8({})``); the compared values are
  lowered in Python as DuckDB lowers (``triage.rules.casefold``), so say in your dialect where the
  engine's lowering differs;
- :meth:`SQL.regex_call`: a regex test, given the subject, the RE2 pattern text and whether it is
  case-sensitive (ClickHouse: ``match(subject, '(?i)' || p)``); the gate of
  :meth:`SQL.blocked` uses it too;
- ``BIND`` and :meth:`SQL.quote`: values as ``?`` parameters (the default), or inline literals
  quoted by ``quote`` when the engine or the output is plain SQL text;
- ``EVENT_FIELDS`` / :meth:`SQL.event_column`: how each rule field reads from the events table.

``AND``/``OR``/``NOT``/``GROUP`` (the joiners) and ``CASE`` are standard SQL and rarely change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from triage.rules import All, Condition, Leaf, Not, RuleTable, re2_error
from triage.targets.base import Generator, leaf_value, table_fields

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


@dataclass(frozen=True)
class CompiledSQL:
    """A ``CASE`` yielding the 1-based index of the first matching rule (NULL when none)."""

    expr: str
    params: list[str]
    fields: list[str]


# The fast form (:meth:`SQL.blocked`): the same first-match-wins answer, most rules skipped.
#
# Why: a CASE of 200 rules evaluates up to 200 tests per row. Rules are cut into blocks of about
# BLOCK_SIZE in priority order; each block is gated by one combined regex per field that matches
# whenever any rule of the block could match (each rule contributes a *necessary* condition: its
# literal, or its regex). RE2 scans a row once for the whole alternation, and the rules inside
# run only on rows that pass. Blocks are tried in order (COALESCE), so priority is kept exactly.
BLOCK_SIZE = 40
_RE2_SPECIAL = set("\\.+*?()|[]{}^$#&~-")
Gate = dict[tuple[str, bool], list[str]]  # (field, lowered) -> alternatives


def re2_escape(text: str) -> str:
    """``text`` as an RE2 pattern matching it literally (ASCII punctuation escaped)."""
    return "".join("\\" + ch if ch in _RE2_SPECIAL else ch for ch in text)


class SQL(Generator):
    """DuckDB SQL over one row: values bound as parameters, RE2 regexes as DuckDB runs them."""

    TARGET = "sql"
    OPERATORS: ClassVar[dict[str, str]] = {
        "contains": "contains({subject}, {value})",
        "prefix": "starts_with({subject}, {value})",
        "suffix": "ends_with({subject}, {value})",
        "equals": "({subject} = {value})",
    }
    AND = " AND "
    OR = " OR "
    NOT = "(NOT {})"
    LOWER: ClassVar[str] = "lower({})"
    BIND: ClassVar[bool] = True
    EVENT_FIELDS: ClassVar[dict[str, str]] = EVENT_FIELDS

    def __init__(
        self,
        table: RuleTable | None = None,
        column: Callable[[str], str] | None = None,
        lower_column: Callable[[str], str] | None = None,
        params: list[str] | None = None,
    ):
        """``column(field)`` reads a field (default: from the events table); ``lower_column``
        names an already lowered copy of a field (computed once per row rather than once per
        test); ``params`` collects bound values in placeholder order."""
        super().__init__(table or RuleTable("", ()))
        self.column = column or self.event_column
        self.lower_column = lower_column
        self.params: list[str] = [] if params is None else params

    # --- the dialect --------------------------------------------------------------------------

    @classmethod
    def event_column(cls, field: str) -> str:
        """SQL that reads one rule field from a row of ``events`` (never NULL)."""
        if field in cls.EVENT_FIELDS:
            return cls.EVENT_FIELDS[field]
        return f"coalesce(tags[{cls.quote(field.removeprefix('tags.'))}], '')"

    @staticmethod
    def quote(text: str) -> str:
        """A SQL string literal."""
        return "'" + text.replace("'", "''") + "'"

    def literal(self, text: str) -> str:
        if not self.BIND:
            return self.quote(text)
        self.params.append(text)
        return "?"

    def raw(self, field: str) -> str:
        return self.column(field)

    def lower(self, field: str) -> str:
        if self.lower_column is not None:
            return self.lower_column(field)
        return self.LOWER.format(self.column(field))

    def regex_call(self, subject: str, pattern: str, case_sensitive: bool = True) -> str:
        """An RE2 partial-match test of ``subject`` against ``pattern`` (text, bound here)."""
        flags = "''" if case_sensitive else "'i'"
        return f"regexp_matches({subject}, {self.literal(pattern)}, {flags})"

    def gate_call(self, subject: str, pattern: str) -> str:
        """The block gate: a case-sensitive regex test (case is folded in the pattern)."""
        return f"regexp_matches({subject}, {self.literal(pattern)})"

    def regex_test(self, leaf: Leaf, pattern: str) -> str:
        return self.regex_call(self.raw(leaf.field), pattern, leaf.case_sensitive)

    # --- whole tables -------------------------------------------------------------------------

    def case(self) -> CompiledSQL:
        """The first-match-wins ``CASE`` over every rule of the table."""
        arms = [
            f"WHEN {self.condition(rule.condition)} THEN {i}"
            for i, rule in enumerate(self.table.rules, start=1)
        ]
        if not arms:
            return CompiledSQL("CAST(NULL AS INTEGER)", [], [])
        return CompiledSQL("CASE " + " ".join(arms) + " END", self.params, self.fields())

    def fields(self) -> list[str]:
        return table_fields(self.table.rules)

    def blocked(self, block_size: int = BLOCK_SIZE) -> CompiledSQL:
        """Like :meth:`case` (same result on every row), gated by blocks of rules."""
        table = self.table
        if not table.rules:
            return self.case()
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

        parts = []
        for gate, idxs in blocks:
            tests = []
            if gate:
                for (field, lowered), pieces in gate.items():
                    subject = self.lower(field) if lowered else self.raw(field)
                    tests.append(self.gate_call(subject, "|".join(dict.fromkeys(pieces))))
            arms = [f"WHEN {self.condition(table.rules[i - 1].condition)} THEN {i}" for i in idxs]
            inner = "CASE " + " ".join(arms) + " END"
            parts.append(f"CASE WHEN {' OR '.join(tests)} THEN {inner} END" if tests else inner)
        expr = parts[0] if len(parts) == 1 else "coalesce(" + ", ".join(parts) + ")"
        return CompiledSQL(expr, self.params, self.fields())


def _necessary(cond: Condition) -> Gate | None:
    """Patterns one of which must match for ``cond`` to hold; None when none can be derived."""
    if isinstance(cond, Leaf):
        if cond.op == "regex":
            if "\\Q" in cond.value:  # \Q...\E would swallow the group's closing parenthesis
                return None
            piece = f"(?:{cond.value})" if cond.case_sensitive else f"(?i:{cond.value})"
            return {(cond.field, False): [piece]}
        # The literal the leaf itself tests (lowered exactly as the leaf lowers it).
        return {(cond.field, not cond.case_sensitive): [re2_escape(leaf_value(cond))]}
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
    return re2_error(pattern) is None


# --- the functions the classifier, lint and examples call (DuckDB, or another dialect) ---------


def event_field_sql(field: str) -> str:
    """SQL that reads one rule field from a row of ``events`` (never NULL)."""
    return SQL.event_column(field)


def compile_condition(
    cond: Condition,
    column: Callable[[str], str],
    params: list[str],
    lower_column: Callable[[str], str] | None = None,
    dialect: type[SQL] = SQL,
) -> str:
    """SQL for one condition; appends its parameters to ``params`` in placeholder order."""
    return dialect(column=column, lower_column=lower_column, params=params).condition(cond)


def compile_table(
    table: RuleTable, column: Callable[[str], str] | None = None, dialect: type[SQL] = SQL
) -> CompiledSQL:
    """The first-match-wins ``CASE`` over every rule of the table."""
    return dialect(table, column=column).case()


def compile_blocked(
    table: RuleTable,
    column: Callable[[str], str] | None = None,
    lower_column: Callable[[str], str] | None = None,
    block_size: int = BLOCK_SIZE,
    dialect: type[SQL] = SQL,
) -> CompiledSQL:
    """Like :func:`compile_table` (same result on every row), gated by blocks of rules."""
    return dialect(table, column=column, lower_column=lower_column).blocked(block_size)


def necessary_gate(cond: Condition) -> Gate | None:
    """Patterns one of which must match for ``cond`` to hold (None: none can be derived); the
    blocks of `triage rules lint` are gated by them as the fast form's are."""
    return _necessary(cond)


def gate_valid(pattern: str) -> bool:
    """Whether RE2 compiles ``pattern`` (a combined gate)."""
    return _gate_valid(pattern)
