"""Check a rule table's examples through the real SQL classifier (not a second implementation)."""

from __future__ import annotations

import duckdb

from triage.rules import Example, Rule, RuleTable
from triage.targets.sql import compile_condition

# Example fields -> the column each one fills in the scratch table.
_COLUMNS = {
    "message": "message",
    "exception.type": "exc_type",
    "exception.value": "exc_value",
    "logger": "logger",
    "level": "level",
    "platform": "platform",
    "transaction": "transaction",
    "release": "release",
    "environment": "environment",
    "project": "project",
}


def example_column(field: str) -> str:
    if field in _COLUMNS:
        return f"coalesce(\"{_COLUMNS[field]}\", '')"
    name = field.removeprefix("tags.").replace("'", "''")
    return f"coalesce(tags['{name}'], '')"


def load_examples(con: duckdb.DuckDBPyConnection, examples: list[Example]) -> None:
    cols = ", ".join(f'"{c}" VARCHAR' for c in _COLUMNS.values())
    con.execute(f"CREATE OR REPLACE TEMP TABLE ex (i INTEGER, {cols}, tags MAP(VARCHAR, VARCHAR))")
    if not examples:
        return
    # One statement of column lists: executemany prepares a statement per row (about 60 ms for
    # a rule's few examples, seconds for a table's), which made lint slow on large tables.
    tag_items = [
        [(k[5:], v) for k, v in ex.fields.items() if k.startswith("tags.")] for ex in examples
    ]
    params: list[list] = [list(range(len(examples)))]
    params += [[ex.fields.get(f) for ex in examples] for f in _COLUMNS]
    params += [[[k for k, _ in t] for t in tag_items], [[v for _, v in t] for t in tag_items]]
    cols = ", ".join(f"unnest(?::VARCHAR[]) AS c{n}" for n in range(len(_COLUMNS)))
    picks = ", ".join(f"c{n}" for n in range(len(_COLUMNS)))
    con.execute(
        f"INSERT INTO ex SELECT i, {picks}, map(tk, tv) FROM (SELECT unnest(?::INTEGER[]) AS i, "
        f"{cols}, unnest(?::VARCHAR[][]) AS tk, unnest(?::VARCHAR[][]) AS tv)",
        params,
    )


def matches(
    rule: Rule, examples: list[Example], con: duckdb.DuckDBPyConnection | None = None
) -> list[bool]:
    """Whether ``rule``'s condition matches each example, evaluated by DuckDB."""
    own = con is None
    con = con or duckdb.connect()
    try:
        load_examples(con, examples)
        params: list[str] = []
        cond = compile_condition(rule.condition, example_column, params)
        got = dict(con.execute(f"SELECT i, {cond} FROM ex", params).fetchall())
        return [bool(got.get(i)) for i in range(len(examples))]
    finally:
        if own:
            con.close()


def check_examples(table: RuleTable) -> tuple[list[str], int]:
    """Failures as readable lines, and how many examples were checked."""
    failures: list[str] = []
    checked = 0
    con = duckdb.connect()
    try:
        for rule in table.rules:
            for expect, exs in ((True, rule.match_examples), (False, rule.no_match_examples)):
                if not exs:
                    continue
                got = matches(rule, list(exs), con)
                checked += len(exs)
                for ex, ok in zip(exs, got, strict=True):
                    if ok != expect:
                        word = "should match but does not" if expect else "matches but should not"
                        failures.append(f"rule {rule.id}: {ex.label!r} {word}")
    finally:
        con.close()
    return failures, checked
