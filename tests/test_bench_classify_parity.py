"""The fast (blocked, gated) classifier gives exactly what the plain CASE chain gives."""

from __future__ import annotations

import importlib.util
import string
from pathlib import Path

import duckdb
import pytest
import re2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import triage
from triage.analysis import classify as classify_mod
from triage.rules import builtin_names
from triage.targets.sql import compile_blocked, re2_escape

REPO = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("bench_generate", REPO / "benchmarks/generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gen = _generator()


def _classified(store: triage.Store, table, method: str) -> list[tuple]:
    classify_mod.classify(store.con, table, method=method)
    return store.con.execute(
        "SELECT event_id, rule_id, kind, new_level FROM classifications "
        "WHERE ruleset_hash = ? ORDER BY event_id",
        [table.hash],
    ).fetchall()


@pytest.fixture(scope="module")
def bench_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    gen.write_events(folder / "data" / "realistic.ndjson", 3000, seed=3)
    gen.write_events(folder / "data" / "distinct.ndjson", 1500, seed=4, distinct=True)
    store = triage.open(folder / "bench.duckdb")
    assert store.ingest([folder / "data"]).added == 4500
    (folder / "rules200.toml").write_text(gen.rules_toml(), encoding="utf-8")
    yield store, folder / "rules200.toml"
    store.close()


@pytest.mark.parametrize("rules", ["bench-200", *builtin_names()])
def test_blocked_equals_case_chain(bench_db, rules):
    store, path200 = bench_db
    table = triage.load_rules(path200 if rules == "bench-200" else rules)
    reference = _classified(store, table, "case")
    fast = _classified(store, table, "blocked")
    assert fast == reference
    assert len(reference) > 100  # the tables do match generated events


def test_blocked_has_one_gate_per_block(bench_db):
    _, path200 = bench_db
    table = triage.load_rules(path200)
    compiled = compile_blocked(table, block_size=40)
    assert compiled.expr.startswith("coalesce(")
    # 200 rules, none negated at the top: five gated blocks of 40
    assert compiled.expr.count(" END END") == 5  # each gated block closes its inner CASE


def test_demo_report_unchanged_by_method(demo_db):
    table = triage.load_rules("openhuman")
    assert _classified(demo_db, table, "blocked") == _classified(demo_db, table, "case")


def test_unknown_method_refused(demo_db):
    with pytest.raises(ValueError, match="unknown classify method"):
        classify_mod.classify(demo_db.con, triage.load_rules("openhuman"), method="loop")


@given(st.text(alphabet=string.printable + "éİß", min_size=1, max_size=20))
def test_re2_escape_matches_the_text_literally(text):
    assert re2.search(re2_escape(text), "x" + text + "y") is not None
    assert re2.fullmatch(re2_escape(text), text) is not None


# Random tables over a fixed set of messages: overlapping rules, negation, case, regex.
MESSAGES = [
    "Timed out after 30ms",
    "timed out after 5000ms (rpc)",
    "Connection refused: 127.0.0.1",
    "SESSION_EXPIRED please re-auth",
    "session_expired lowercase",
    "GET /teams failed (401 Unauthorized)",
    "rate_limit hit: 429",
    "100% done_",
    "İstanbul ß straße",
    "a.b*c (x) [y] {z}",
    "",
]
WORDS = ["timed out", "Timed", "401", "session", "SESSION_EXPIRED", "_", "%", "ß", "İ", "a.b*c"]
WORDS += ["(x)", "refused", "ms", "zzz-nomatch", "straße", "[y]"]
REGEXES = [r"\d+ms", r"^GET /", r"(?i)timed", r"expired$", r"4\d\d", r"a\.b\*c", r"x|y"]

leaf = st.one_of(
    st.builds(
        lambda op, w, cs, f: {"field": f, op: w, "case_sensitive": cs},
        st.sampled_from(["contains", "prefix", "suffix", "equals"]),
        st.sampled_from(WORDS),
        st.booleans(),
        st.sampled_from(["message", "message", "logger"]),
    ),
    st.builds(
        lambda r, cs: {"field": "message", "regex": r, "case_sensitive": cs},
        st.sampled_from(REGEXES),
        st.booleans(),
    ),
)
cond = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
    ),
    max_leaves=4,
)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"


@pytest.fixture(scope="module")
def messages_con():
    con = duckdb.connect()
    con.execute("CREATE TABLE events (event_id VARCHAR, message VARCHAR, logger VARCHAR)")
    con.executemany(
        "INSERT INTO events VALUES (?, ?, ?)",
        [[str(i), m, "app.ui" if i % 2 else "core"] for i, m in enumerate(MESSAGES)],
    )
    yield con
    con.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(cond, min_size=1, max_size=12), st.sampled_from([1, 2, 3, 40]))
def test_blocked_equals_case_on_random_tables(messages_con, conds, block_size):
    from triage.targets.sql import compile_table

    text = "\n".join(
        f'[[rules]]\nid = "r{i}"\nkind = "k"\nlevel = "info"\nwhen = {_toml_value(c)}\n'
        for i, c in enumerate(conds)
    )
    table = triage.rules.parse(text, name="random")
    column = {"message": "coalesce(message, '')", "logger": "coalesce(logger, '')"}.__getitem__
    case = compile_table(table, column)
    fast = compile_blocked(table, column, block_size=block_size)
    got_case = messages_con.execute(
        f"SELECT event_id, {case.expr} FROM events ORDER BY event_id", case.params
    ).fetchall()
    got_fast = messages_con.execute(
        f"SELECT event_id, {fast.expr} FROM events ORDER BY event_id", fast.params
    ).fetchall()
    assert got_fast == got_case
