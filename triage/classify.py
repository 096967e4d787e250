"""Run a compiled rule table over the events table, set at a time, and store the outcome."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from triage.compile_sql import compile_table, event_field_sql
from triage.rules import RuleTable


@dataclass(frozen=True)
class ClassifyResult:
    ruleset: str
    ruleset_hash: str
    events: int
    matched: int
    distinct_inputs: int


def classify(con: duckdb.DuckDBPyConnection, table: RuleTable) -> ClassifyResult:
    """Classify every event with ``table`` and replace its rows in ``classifications``.

    Real exports repeat the same text many times, so the CASE runs once per distinct combination
    of the fields the rules read, and the result is joined back to the events.
    """
    distinct_fields = list(dict.fromkeys(["message", *_fields(table)]))
    alias = {f: f"f{i}" for i, f in enumerate(distinct_fields)}
    compiled = compile_table(table, column=lambda f: alias[f])
    select_distinct = ", ".join(f"{event_field_sql(f)} AS {alias[f]}" for f in distinct_fields)
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
            f"SELECT {', '.join(alias.values())}, {compiled.expr} AS rule_idx "
            f"FROM (SELECT DISTINCT {select_distinct} FROM events)",
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
