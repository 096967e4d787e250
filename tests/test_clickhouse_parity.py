"""DuckDB and ClickHouse classify the same events with the same rule, and report the same groups.

Events go the way a user's do: files ingested by DuckDB's normalizer, copied into the ClickHouse
store (``triage ingest --engine clickhouse`` does the same), classified in both engines with the
compiled tables. Generated events (benchmarks/generate.py, triage.scenarios) and every rule
example's hostile variants (tests/parity_corpus.py: unicode, newlines, İ, final sigma, Kelvin
sign) as events; 5 rule tables including the 200-rule benchmark table.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest
from clickhouse_engine import ch, ch_url, engine_label  # noqa: F401 (fixtures)
from parity_corpus import STRESS, TABLES, corpus, sql_classify

import triage
from triage import scenarios
from triage.analysis import classify as classify_mod
from triage.analysis import clickhouse as ch_analysis
from triage.rules import fields_of, load
from triage.store.clickhouse import copy_from_duckdb
from triage.targets.clickhouse import compile_blocked, compile_table

REPO = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("bench_generate", REPO / "benchmarks/generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _hostile_events() -> list[dict]:
    """Every corpus row (rule examples and their variants) as a raw SDK event."""
    out = []
    for i, row in enumerate(corpus()):
        ev: dict = {"event_id": f"{i:032x}", "timestamp": 1778400000 + i, "level": "error"}
        if "exception.type" in row or "exception.value" in row:
            ev["exception"] = {
                "values": [{"type": row.get("exception.type"), "value": row.get("exception.value")}]
            }
        if "message" in row:
            ev["message"] = row["message"]
        for key in ("logger", "platform", "transaction", "release", "environment"):
            if key in row:
                ev[key] = row[key]
        tags = {k.removeprefix("tags."): v for k, v in row.items() if k.startswith("tags.")}
        if tags:
            ev["tags"] = tags
        out.append(ev)
    return out


@pytest.fixture(scope="module")
def events_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ch_parity")
    gen = _generator()
    gen.write_events(folder / "realistic.ndjson", 3000, seed=3)
    gen.write_events(folder / "distinct.ndjson", 1500, seed=4, distinct=True)
    for mix in ("all", "noise"):
        sc = scenarios.generate(mix, seed=1)
        lines = "\n".join(json.dumps(e) for e in sc.events)
        (folder / f"scenario-{mix}.ndjson").write_text(lines + "\n", encoding="utf-8")
    hostile = "\n".join(json.dumps(e, ensure_ascii=False) for e in _hostile_events())
    (folder / "hostile.ndjson").write_text(hostile + "\n", encoding="utf-8")
    (folder / "rules200.toml").write_text(gen.rules_toml(), encoding="utf-8")
    return folder


def _tables(folder: Path) -> list:
    return [load(t) for t in TABLES] + [load(folder / "rules200.toml")]


def test_corpus_rows_identical(ch, capsys):  # noqa: F811 (fixture)
    """Every corpus row through both compilers (the plain CASE and the gated form) alike."""
    rows = corpus()
    mismatches = 0
    tables = [load(t) for t in TABLES]
    for table in tables:
        expected = sql_classify(table, rows)
        fields: list[str] = []
        for rule in table.rules:
            fields += [f for f in fields_of(rule.condition) if f not in fields]
        col = {f: f"c{i}" for i, f in enumerate(fields)}
        ch.command("DROP TABLE IF EXISTS corpus_rows")
        ch.command(
            "CREATE TABLE corpus_rows (i UInt32, "
            + ", ".join(f"{col[f]} String" for f in fields)
            + ") ENGINE = Memory"
        )
        frame = pd.DataFrame(
            {"i": range(len(rows)), **{col[f]: [r.get(f, "") for r in rows] for f in fields}}
        )
        ch.client.insert_df("corpus_rows", frame)
        ids = [r.id for r in table.rules]
        for compiled in (
            compile_table(table, column=lambda f, col=col: col[f]),
            compile_blocked(table, column=lambda f, col=col: col[f]),
        ):
            got = dict(ch.rows(f"SELECT i, {compiled.expr} FROM corpus_rows"))
            out = [ids[got[i] - 1] if got.get(i) else None for i in range(len(rows))]
            bad = [
                (rows[i], expected[i], out[i]) for i in range(len(rows)) if out[i] != expected[i]
            ]
            mismatches += len(bad)
            assert not bad, f"{table.name}: {len(bad)} rows differ, first: {bad[:3]}"
    with capsys.disabled():
        print(
            f"\nhostile variants on {engine_label(ch)}: {len(rows)} rows x {len(tables)} tables "
            f"x 2 forms, {mismatches} mismatches"
        )


def test_generated_events_identical(ch, events_dir, tmp_path, capsys):  # noqa: F811 (fixture)
    """Ingested events classified by DuckDB and by ClickHouse: the same rule for every event."""
    store = triage.open(tmp_path / "parity.duckdb")
    try:
        store.ingest([events_dir])
        n = store.con.execute("SELECT count(*) FROM events").fetchone()[0]
        copied = copy_from_duckdb(ch, store.con)
        assert copied.added == n > 4500
        tables = _tables(events_dir)
        mismatches = 0
        for table in tables:
            classify_mod.classify(store.con, table)
            duck = dict(
                store.con.execute(
                    "SELECT e.event_id, c.rule_id FROM events e LEFT JOIN classifications c "
                    "ON c.event_id = e.event_id AND c.ruleset_hash = ?",
                    [table.hash],
                ).fetchall()
            )
            ids = [r.id for r in table.rules]
            got = {
                eid: (ids[idx - 1] if idx else None)
                for eid, idx in ch.rows(ch_analysis.classify_sql(table, ch.events_sql()))
            }
            assert set(got) == set(duck)
            bad = [(e, duck[e], got[e]) for e in duck if duck[e] != got[e]]
            mismatches += len(bad)
            assert not bad, f"{table.name}: {len(bad)} events differ, first: {bad[:3]}"
            assert sum(v is not None for v in got.values()) > 0
    finally:
        store.close()
    with capsys.disabled():
        print(
            f"\ngenerated events on {engine_label(ch)}: {n} events x {len(tables)} tables, "
            f"{mismatches} mismatches"
        )


def _comparable(report) -> pd.DataFrame:
    cols = [
        "group_key",
        "events",
        "users",
        "error_events",
        "leaving_events",
        "reclassified_events",
        "verdict",
        "rules",
        "top_user_share",
    ]
    df = report.groups[cols].copy()
    df["rules"] = df["rules"].map(lambda r: ",".join(r))
    for c in ("group_key", "verdict"):
        df[c] = df[c].astype(object)
    for c in ("events", "users", "error_events", "leaving_events", "reclassified_events"):
        df[c] = df[c].astype("int64")
    df["top_user_share"] = df["top_user_share"].astype("float64").round(4)
    return df.sort_values("group_key").reset_index(drop=True)


def test_report_identical(ch, events_dir, tmp_path):  # noqa: F811 (fixture)
    """The group report on ClickHouse: the same groups, counts, rules and verdicts as DuckDB."""
    store = triage.open(tmp_path / "report.duckdb")
    try:
        store.ingest([events_dir, *triage.demo_paths()])
        copy_from_duckdb(ch, store.con)
        for spec in ("openhuman", str(STRESS), events_dir / "rules200.toml"):
            table = load(spec)
            duck = store.report(table)
            click = ch_analysis.build(ch, table)
            pd.testing.assert_frame_equal(_comparable(click), _comparable(duck))
            assert click.totals["leaving_events"] == duck.totals["leaving_events"] > 0
            assert click.totals["downgraded_groups"] == duck.totals["downgraded_groups"]
            assert click.totals["days"] == duck.totals["days"]
    finally:
        store.close()


def test_reingest_adds_nothing(ch, tmp_path):  # noqa: F811 (fixture)
    store = triage.open(tmp_path / "again.duckdb")
    try:
        store.ingest(triage.demo_paths())
        first = copy_from_duckdb(ch, store.con)
        again = copy_from_duckdb(ch, store.con)
    finally:
        store.close()
    assert first.added == first.events > 0
    assert (again.added, again.duplicates) == (0, first.events)
    assert ch.rows("SELECT count() FROM triage_events")[0][0] == first.events
