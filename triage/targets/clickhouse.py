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

from triage.common.chsql import literal
from triage.rules import All, Condition, Leaf, Not, RuleTable, fields_of, leaves
from triage.rules.casefold import LOWER_MAP
from triage.rules.casefold import lower as casefold_lower
from triage.targets.common import Export, header_lines
from triage.targets.sql import EVENT_FIELDS, CompiledSQL, _gate_valid, _necessary

TARGET = "clickhouse-sql"
BLOCK_SIZE = 40


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


def event_field_sql(field: str) -> str:
    """ClickHouse SQL reading one rule field from a row of the normalized events (never NULL).

    The column names and the coalesce chains are DuckDB's; only a tag's key is quoted the
    ClickHouse way (a backslash escapes there).
    """
    if field in EVENT_FIELDS:
        return EVENT_FIELDS[field]
    return f"coalesce(tags[{literal(field.removeprefix('tags.'))}], '')"


def _leaf(leaf: Leaf, col: str, lowered: str | None = None) -> str:
    if leaf.op == "regex":
        return f"match({col}, {regex_literal(leaf.value, leaf.case_sensitive)})"
    value = leaf.value if leaf.case_sensitive else casefold_lower(leaf.value)
    subject = col if leaf.case_sensitive else (lowered or lower_sql(col))
    lit = literal(value)
    if leaf.op == "contains":
        return f"(position({subject}, {lit}) > 0)"
    if leaf.op == "prefix":
        return f"startsWith({subject}, {lit})"
    if leaf.op == "suffix":
        return f"endsWith({subject}, {lit})"
    return f"({subject} = {lit})"


def compile_condition(
    cond: Condition,
    column: Callable[[str], str],
    lower_column: Callable[[str], str] | None = None,
) -> str:
    """ClickHouse SQL for one condition (values inlined as literals)."""
    if isinstance(cond, Leaf):
        needs_lower = lower_column and cond.op != "regex" and not cond.case_sensitive
        lowered = lower_column(cond.field) if needs_lower else None
        return _leaf(cond, column(cond.field), lowered)
    if isinstance(cond, Not):
        return f"(NOT {compile_condition(cond.item, column, lower_column)})"
    joiner = " AND " if isinstance(cond, All) else " OR "
    return "(" + joiner.join(compile_condition(c, column, lower_column) for c in cond.items) + ")"


def compile_table(table: RuleTable, column: Callable[[str], str] = event_field_sql) -> CompiledSQL:
    """The plain first-match-wins ``CASE``: the 1-based index of the rule, 0 when none.

    0 rather than NULL: ClickHouse makes a CASE with no ELSE Nullable, and a plain UInt16 joins
    and indexes arrays without a NULL check.
    """
    arms = []
    fields: list[str] = []
    for i, rule in enumerate(table.rules, start=1):
        arms.append(f"WHEN {compile_condition(rule.condition, column)} THEN {i}")
        fields += [f for f in fields_of(rule.condition) if f not in fields]
    if not arms:
        return CompiledSQL("toUInt16(0)", [], [])
    return CompiledSQL("CASE " + " ".join(arms) + " ELSE 0 END", [], fields)


def compile_blocked(
    table: RuleTable,
    column: Callable[[str], str] = event_field_sql,
    lower_column: Callable[[str], str] | None = None,
    block_size: int = BLOCK_SIZE,
) -> CompiledSQL:
    """The gated form (see ``triage.targets.sql.compile_blocked``): blocks of rules behind one
    combined ``match()`` per field, tried in order, so priority is kept exactly."""
    reference = compile_table(table, column)
    if not table.rules:
        return reference
    blocks: list[tuple[dict | None, list[int]]] = []
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
        arms = " ".join(
            f"WHEN {compile_condition(table.rules[i - 1].condition, column, lower_column)} THEN {i}"
            for i in idxs
        )
        inner = f"CASE {arms} ELSE 0 END"
        if not gate:
            parts.append(inner)
            continue
        tests = []
        for (field, lowered), pieces in gate.items():
            subject = column(field)
            if lowered:
                subject = lower_column(field) if lower_column else lower_sql(subject)
            # Gate pieces are already RE2 with their own (?i:..) where needed: only dot_nl differs.
            tests.append(f"match({subject}, {literal('(?-s)' + '|'.join(dict.fromkeys(pieces)))})")
        parts.append(f"if({' OR '.join(tests)}, {inner}, 0)")
    return CompiledSQL(_first_nonzero(parts), [], reference.fields)


def _first_nonzero(parts: list[str]) -> str:
    """``parts[0]`` unless 0, else ``parts[1]`` unless 0, ...: blocks are in priority order.

    ``multiIf`` is short-circuit in ClickHouse (``short_circuit_function_evaluation``), so a later
    block runs only on rows no earlier block took, and a repeated subexpression is computed once
    (the query's expression graph is deduplicated).
    """
    if len(parts) == 1:
        return parts[0]
    args = []
    for p in parts[:-1]:
        args += [f"({p}) > 0", f"({p})"]
    return "multiIf(" + ", ".join([*args, parts[-1]]) + ")"


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
