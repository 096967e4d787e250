"""Run a compiled rule table over the events table, set at a time, and store the outcome."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from triage.rules import Leaf, RuleTable, leaves
from triage.targets.sql import compile_blocked, compile_table, event_field_sql

METHODS = ("blocked", "case")


@dataclass(frozen=True)
class ClassifyResult:
    ruleset: str
    ruleset_hash: str
    events: int
    matched: int
    distinct_inputs: int


def _lowered_fields(table: RuleTable) -> list[str]:
    """Fields some case-insensitive literal test reads: their lowered copy is computed once."""
    out: list[str] = []
    for rule in table.rules:
        for leaf in leaves(rule.condition):
            if isinstance(leaf, Leaf) and leaf.op != "regex" and not leaf.case_sensitive:
                if leaf.field not in out:
                    out.append(leaf.field)
    return out


def classify(
    con: duckdb.DuckDBPyConnection, table: RuleTable, *, method: str = "blocked"
) -> ClassifyResult:
    """Classify every event with ``table`` and replace its rows in ``classifications``.

    Real exports repeat the same text many times, so the rules run once per distinct combination
    of the fields they read, and the result is joined back to the events. ``method="blocked"``
    (the default) gates blocks of rules by one combined regex (:func:`compile_blocked`);
    ``"case"`` is the plain CASE chain, kept as the reference the fast form is tested against.
    """
    if method not in METHODS:
        raise ValueError(f"unknown classify method {method!r} (known: {', '.join(METHODS)})")
    distinct_fields = list(dict.fromkeys(["message", *_fields(table)]))
    alias = {f: f"f{i}" for i, f in enumerate(distinct_fields)}
    lowered = {f: f"l{distinct_fields.index(f)}" for f in _lowered_fields(table)}
    if method == "blocked":
        compiled = compile_blocked(
            table, column=lambda f: alias[f], lower_column=lambda f: lowered[f]
        )
    else:
        compiled = compile_table(table, column=lambda f: alias[f])
    select_distinct = ", ".join(f"{event_field_sql(f)} AS {alias[f]}" for f in distinct_fields)
    select_lowered = "".join(f", lower({alias[f]}) AS {lowered[f]}" for f in lowered)
    join_on = " AND ".join(f"{event_field_sql(f)} = m.{alias[f]}" for f in distinct_fields)

    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE rule_meta (idx INTEGER, rule_id VARCHAR, "
            "kind VARCHAR, new_level VARCHAR)"
        )
        if table.rules:
            con.executemany(
                "INSERT INTO rule_meta VALUES (?, ?, ?, ?)",
                [[i, r.id, r.kind, r.level] for i, r in enumerate(table.rules, start=1)],
            )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE distinct_inputs AS "
            f"SELECT *{select_lowered} FROM (SELECT DISTINCT {select_distinct} FROM events)"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE distinct_inputs AS "
            f"SELECT {', '.join(alias.values())}, {compiled.expr} AS rule_idx "
            f"FROM distinct_inputs",
            compiled.params,
        )
        con.execute("DELETE FROM classifications WHERE ruleset_hash = ?", [table.hash])
        con.execute(
            f"INSERT INTO classifications "
            f"SELECT ?, e.event_id, r.rule_id, r.kind, r.new_level "
            f"FROM events e JOIN distinct_inputs m ON {join_on} "
            f"JOIN rule_meta r ON r.idx = m.rule_idx",
            [table.hash],
        )
        con.execute(
            "INSERT OR REPLACE INTO rulesets VALUES (?, ?, ?, ?, current_timestamp)",
            [table.hash, table.name, table.source, table.content],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    events = con.execute("SELECT count(*) FROM events").fetchone()[0]
    matched = con.execute(
        "SELECT count(*) FROM classifications WHERE ruleset_hash = ?", [table.hash]
    ).fetchone()[0]
    n_distinct = con.execute("SELECT count(*) FROM distinct_inputs").fetchone()[0]
    return ClassifyResult(table.name, table.hash, events, matched, n_distinct)


def _fields(table: RuleTable) -> list[str]:
    return compile_table(table).fields
