"""The rule table as ClickHouse SQL: the same first-match-wins answer as DuckDB, on ClickHouse.

One emitter per dialect (not a transpiler: sqlglot's DuckDB -> ClickHouse drops the regex ``i``
flag and maps ``lower`` to ASCII-only ``LOWER``). What differs from the DuckDB generator, each
measured against chdb's ClickHouse (``tests/test_clickhouse_matrix.py`` lists every case):

- ``match()`` is RE2 with ``.`` matching ``\\n`` (``dot_nl``); DuckDB's is not: every pattern is
  prefixed with ``(?-s)`` (``(?i-s)`` when case-insensitive) so ``.`` means what it means there.
- ``lowerUTF8`` is not DuckDB's ``lower()`` (``İ`` -> ``i̇``, a final sigma -> ``ς``, and it varies
  between ClickHouse versions). Text is lowered with ``translateUTF8`` and the frozen table
  (``triage.rules.casefold``, generated from DuckDB): one code point to one, as DuckDB does.
- Values are inlined as escaped string literals rather than bound: the exported SQL must stand
  alone, and chdb's own ``params=`` un-escapes backslashes (``\\b`` arrives as 0x08). The rule
  table is the author's text, not event text; :func:`literal` escapes quotes, backslashes and
  every control character, and the case matrix runs hostile values through it.
- A missing Map key reads as ``''`` (DuckDB: NULL), which ``coalesce(.., '')`` makes the same.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import ClassVar

from triage.common.chsql import literal
from triage.rules import Condition, RuleTable, leaves
from triage.rules.casefold import LOWER_MAP
from triage.targets.base import Export, header_lines
from triage.targets.sql import BLOCK_SIZE, SQL, CompiledSQL

TARGET = "clickhouse-sql"


@cache
def _lower_args() -> tuple[str, str]:
    items = sorted(LOWER_MAP.items())
    frm = "".join(chr(a) for a, _ in items)
    to = "".join(chr(b) for _, b in items)
    return literal(frm), literal(to)


def lower_sql(expr: str) -> str:
    """``expr`` lowered exactly as DuckDB's ``lower()`` lowers it."""
    frm, to = _lower_args()
    return f"translateUTF8({expr}, {frm}, {to})"


def regex_literal(pattern: str, case_sensitive: bool) -> str:
    """A pattern for ``match()`` meaning in ClickHouse what ``pattern`` means in DuckDB."""
    return literal(("(?-s)" if case_sensitive else "(?i-s)") + pattern)


class ClickHouseSQL(SQL):
    """The SQL generator's ClickHouse dialect: only what ClickHouse spells or means differently.

    The rule index is 0, not NULL, when no rule matches: a CASE without ELSE is Nullable in
    ClickHouse, and a plain integer indexes arrays and joins without a NULL check.
    """

    TARGET = TARGET
    OPERATORS: ClassVar[dict[str, str]] = {
        "contains": "(position({subject}, {value}) > 0)",
        "prefix": "startsWith({subject}, {value})",
        "suffix": "endsWith({subject}, {value})",
        "equals": "({subject} = {value})",
    }
    BIND: ClassVar[bool] = False

    @staticmethod
    def quote(text: str) -> str:
        return literal(text)

    def lower(self, field: str) -> str:
        if self.lower_column is not None:
            return self.lower_column(field)
        return lower_sql(self.column(field))

    def regex_call(self, subject: str, pattern: str, case_sensitive: bool = True) -> str:
        return f"match({subject}, {regex_literal(pattern, case_sensitive)})"

    def gate_call(self, subject: str, pattern: str) -> str:
        # Gate pieces carry their own (?i:..) where needed: only dot_nl differs.
        return f"match({subject}, {regex_literal(pattern, True)})"

    def case(self) -> CompiledSQL:
        out = super().case()
        if not self.table.rules:
            return CompiledSQL("toUInt16(0)", [], [])
        return CompiledSQL(out.expr[: -len(" END")] + " ELSE 0 END", [], out.fields)

    def blocked(self, block_size: int = BLOCK_SIZE) -> CompiledSQL:
        """The base's gated blocks (the first block with a match wins), NULL read as 0.

        Each block's rules run only on rows its gate passes: ``CASE WHEN gate`` is short-circuit
        in ClickHouse (``short_circuit_function_evaluation``).
        """
        out = super().blocked(block_size)
        if not self.table.rules:
            return out
        return CompiledSQL(f"ifNull({out.expr}, 0)", [], out.fields)


def event_field_sql(field: str) -> str:
    """ClickHouse SQL reading one rule field from a row of the normalized events (never NULL)."""
    return ClickHouseSQL.event_column(field)


def compile_condition(
    cond: Condition,
    column: Callable[[str], str],
    lower_column: Callable[[str], str] | None = None,
) -> str:
    """ClickHouse SQL for one condition (values inlined as literals)."""
    return ClickHouseSQL(column=column, lower_column=lower_column).condition(cond)


def compile_table(table: RuleTable, column: Callable[[str], str] | None = None) -> CompiledSQL:
    """The plain first-match-wins ``CASE``: the 1-based index of the rule, 0 when none."""
    return ClickHouseSQL(table, column=column).case()


def compile_blocked(
    table: RuleTable,
    column: Callable[[str], str] | None = None,
    lower_column: Callable[[str], str] | None = None,
    block_size: int = BLOCK_SIZE,
) -> CompiledSQL:
    """The gated form (see ``triage.targets.sql``): blocks of rules behind one combined
    ``match()`` per field, tried in order, so priority is kept exactly."""
    return ClickHouseSQL(table, column=column, lower_column=lower_column).blocked(block_size)


def meta_arrays(table: RuleTable) -> dict[str, str]:
    """Rule id, kind and level as ``Array(String)`` literals, indexed by the rule index."""

    def arr(values: list[str]) -> str:
        return "CAST([" + ", ".join(literal(v) for v in values) + "] AS Array(String))"

    return {
        "rule_id": arr([r.id for r in table.rules]),
        "kind": arr([r.kind for r in table.rules]),
        "new_level": arr([r.level for r in table.rules]),
    }


def lowered_fields(table: RuleTable) -> list[str]:
    """Fields some case-insensitive literal test reads: lowered once per row, not once per test."""
    out: list[str] = []
    for rule in table.rules:
        for leaf in leaves(rule.condition):
            if leaf.op != "regex" and not leaf.case_sensitive and leaf.field not in out:
                out.append(leaf.field)
    return out


def with_rule_index(
    table: RuleTable, events_sql: str, column: str = "rule_idx", *, distinct: bool = True
) -> str:
    """``events_sql`` with one more column: the index of the rule that takes the row (0: none).

    Each rule field is read once (``_tf<i>``) and each field a case-insensitive test reads is
    lowered once (``_tl<i>``): the case table is a few kB of literal, and a 200-rule table would
    otherwise repeat it past ``max_query_size``. With ``distinct`` (the default) the rules run
    once per distinct combination of the fields they read, joined back to the events, as the
    DuckDB classifier does: real exports repeat the same text many times.
    """
    fields = compile_table(table).fields
    lowered = lowered_fields(table)
    name = {f: f"_tf{i}" for i, f in enumerate(fields)}
    low = {f: f"_tl{fields.index(f)}" for f in lowered}
    read = ", ".join(f"{event_field_sql(f)} AS {name[f]}" for f in fields)
    lower = "".join(f", {lower_sql(name[f])} AS {low[f]}" for f in lowered)
    expr = compile_blocked(table, column=lambda f: name[f], lower_column=lambda f: low[f]).expr
    if not fields:
        return f"SELECT *, {expr} AS {column} FROM ({events_sql})"
    names = ", ".join(name.values())
    if not distinct:
        helpers = ", ".join([*name.values(), *low.values()])
        return (
            f"SELECT * EXCEPT ({helpers}), {expr} AS {column} "
            f"FROM (SELECT *, {read}{lower} FROM ({events_sql}))"
        )
    # GROUP BY, not DISTINCT: DISTINCT streams out many small blocks, and ClickHouse pays a
    # fixed cost per block for every constant pattern (searchers, regex lookups): 3x slower.
    rules = (
        f"SELECT {names}, {expr} AS {column} "
        f"FROM (SELECT *{lower} FROM (SELECT {read} FROM ({events_sql}) GROUP BY {names}))"
    )
    return (
        f"SELECT * EXCEPT ({names}) FROM (SELECT *, {read} FROM ({events_sql})) AS _ev "
        f"ANY LEFT JOIN ({rules}) AS _rules USING ({names})"
    )


def export_clickhouse_sql(table: RuleTable, events_table: str = "triage_events") -> Export:
    """The table as one ClickHouse query over the normalized events: ``event_id, rule_id, kind,
    new_level`` for every event a rule takes (``triage rules export --to clickhouse-sql``)."""
    meta = meta_arrays(table)
    head = [f"-- {line}" for line in header_lines(table, TARGET)]
    head += [
        f"-- Rule table {table.name!r}: {len(table.rules)} rules, the first that matches wins.",
        f"-- Reads {events_table} (`triage ingest --engine clickhouse` fills it); for a Sentry",
        "-- ClickHouse use `triage report --engine clickhouse --source sentry-clickhouse`.",
        "-- Same answers as DuckDB: patterns start with (?-s) (ClickHouse's `.` would match a",
        "-- newline), and case-insensitive text is lowered with translateUTF8 and DuckDB's own",
        "-- lower() table, not lowerUTF8. The query is long: raise max_query_size first.",
    ]
    body = (
        "SELECT event_id, "
        f"arrayElement({meta['rule_id']}, rule_idx) AS rule_id, "
        f"arrayElement({meta['kind']}, rule_idx) AS kind, "
        f"arrayElement({meta['new_level']}, rule_idx) AS new_level\n"
        f"FROM ({with_rule_index(table, f'SELECT * FROM {events_table}')})\n"
        "WHERE rule_idx > 0"
    )
    text = "\n".join(head) + "\nSET max_query_size = 16777216;\n\n" + body + ";\n"
    return Export(TARGET, text)
