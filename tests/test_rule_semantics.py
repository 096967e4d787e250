"""Rule semantics through the real SQL classifier over a real DuckDB events table, and
`triage rules test`: operators, case sensitivity, all/any/not, first-match order, bad rules."""

from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner
from events_factory import raw_event, write_ndjson

from triage import rules
from triage.cli import main


def _classified(store, tmp_path, table_text: str, events: list[dict]) -> dict[str, str | None]:
    """Ingest ``events``, classify with the table, and return {seed: rule_id or None}."""
    write_ndjson(tmp_path / "events.ndjson", events)
    store.ingest([tmp_path / "events.ndjson"])
    table = rules.parse(textwrap.dedent(table_text), name="t")
    store.classify(table)
    rows = store.sql(
        "SELECT e.message, e.exc_value, c.rule_id FROM events e LEFT JOIN classifications c "
        "ON c.event_id = e.event_id AND c.ruleset_hash = ?",
        [table.hash],
    )
    out = {}
    for r in rows.itertuples(index=False):
        key = r.message if isinstance(r.message, str) else r.exc_value
        out[key] = r.rule_id if isinstance(r.rule_id, str) else None
    return out


def _msgs(*texts: str, **kw) -> list[dict]:
    return [raw_event(t, message=t, **kw) for t in texts]


def test_each_operator_matches_what_it_says(db, tmp_path):
    got = _classified(
        db,
        tmp_path,
        """
        [[rules]]
        id = "eq"
        kind = "k"
        level = "info"
        field = "message"
        equals = "exactly this"

        [[rules]]
        id = "pre"
        kind = "k"
        level = "info"
        field = "message"
        prefix = "start:"

        [[rules]]
        id = "suf"
        kind = "k"
        level = "info"
        field = "message"
        suffix = "(the end)"

        [[rules]]
        id = "has"
        kind = "k"
        level = "info"
        field = "message"
        contains = "in the middle"

        [[rules]]
        id = "re"
        kind = "k"
        level = "info"
        field = "message"
        regex = 'timed out after \\d+ms$'
        """,
        _msgs(
            "exactly this",
            "exactly this and more",
            "start: something",
            "not start: something",
            "something (the end)",
            "something (the end) not",
            "text in the middle of it",
            "Core RPC x timed out after 30000ms",
            "timed out after 30s",
        ),
    )
    assert got == {
        "exactly this": "eq",
        "exactly this and more": None,
        "start: something": "pre",
        "not start: something": None,
        "something (the end)": "suf",
        "something (the end) not": None,
        "text in the middle of it": "has",
        "Core RPC x timed out after 30000ms": "re",
        "timed out after 30s": None,
    }


def test_case_insensitive_by_default_and_sensitive_when_asked(db, tmp_path):
    got = _classified(
        db,
        tmp_path,
        """
        [[rules]]
        id = "sentinel"
        kind = "auth_expired"
        level = "info"
        field = "message"
        contains = "SESSION_EXPIRED"
        case_sensitive = true

        [[rules]]
        id = "token"
        kind = "auth_expired"
        level = "info"
        field = "message"
        contains = "No Backend Session Token"

        [[rules]]
        id = "re-cs"
        kind = "k"
        level = "info"
        field = "message"
        regex = '^Fatal:'
        case_sensitive = true
        """,
        _msgs(
            "SESSION_EXPIRED: please re-auth",
            "session_expired lowercase",
            "NO BACKEND SESSION TOKEN",
            "no backend session token; run auth_store_session first",
            "Fatal: disk",
            "fatal: disk",
        ),
    )
    assert got["SESSION_EXPIRED: please re-auth"] == "sentinel"
    assert got["session_expired lowercase"] is None
    assert got["NO BACKEND SESSION TOKEN"] == "token"
    assert got["no backend session token; run auth_store_session first"] == "token"
    assert got["Fatal: disk"] == "re-cs"
    assert got["fatal: disk"] is None


def test_all_any_not_combine(db, tmp_path):
    got = _classified(
        db,
        tmp_path,
        """
        [[rules]]
        id = "backend-401"
        kind = "auth_expired"
        level = "info"
        all = [
            { field = "message", contains = "401" },
            { field = "message", contains = "unauthorized" },
            { not = { field = "message", prefix = "Discord" } },
        ]

        [[rules]]
        id = "either"
        kind = "transport"
        level = "warning"
        any = [
            { field = "message", contains = "dns error" },
            { field = "exception.type", equals = "ConnectError", case_sensitive = true },
        ]
        """,
        [
            *_msgs(
                "backend returned 401 Unauthorized",
                "Discord API error (401 Unauthorized)",
                "server returned 401",
                "dns error: no such host",
            ),
            raw_event("exc", exc=("ConnectError", "refused")),
            raw_event("exc2", exc=("connecterror", "refused too")),
        ],
    )
    assert got["backend returned 401 Unauthorized"] == "backend-401"
    assert got["Discord API error (401 Unauthorized)"] is None
    assert got["server returned 401"] is None
    assert got["dns error: no such host"] == "either"
    assert got["refused"] == "either"
    assert got["refused too"] is None


def test_first_matching_rule_wins_in_table_order(db, tmp_path):
    events = _msgs("Core RPC x timed out after 30000ms", "operation timed out after 30s")
    timeout_first = """
        [[rules]]
        id = "rpc-timeout"
        kind = "timeout"
        level = "warning"
        field = "message"
        regex = 'timed out after \\d+ms'

        [[rules]]
        id = "transport"
        kind = "transport"
        level = "warning"
        field = "message"
        contains = "timed out"
        """
    got = _classified(db, tmp_path, timeout_first, events)
    assert got == {
        "Core RPC x timed out after 30000ms": "rpc-timeout",
        "operation timed out after 30s": "transport",
    }
    # Swap the order: the broad rule now takes both.
    a, b = timeout_first.split("[[rules]]")[1:]
    got = _classified(db, tmp_path, "[[rules]]" + b + "[[rules]]" + a, events)
    assert set(got.values()) == {"transport"}


def test_fields_tags_and_sql_metacharacters_are_literal(db, tmp_path):
    got = _classified(
        db,
        tmp_path,
        """
        [[rules]]
        id = "by-tag"
        kind = "k"
        level = "info"
        field = "tags.method"
        prefix = "openhuman.billing_"

        [[rules]]
        id = "literal"
        kind = "k"
        level = "info"
        field = "message"
        contains = "100%_done' OR 1=1 --"

        [[rules]]
        id = "by-logger"
        kind = "k"
        level = "drop"
        field = "logger"
        equals = "noisy.module"
        """,
        [
            raw_event("m1", message="no token", tags={"method": "openhuman.billing_get_balance"}),
            raw_event("m2", message="no token either", tags={"method": "openhuman.team_list"}),
            *_msgs("100%_done' OR 1=1 -- yes", "100 percent done"),
            raw_event("l1", message="from the noisy one", logger="noisy.module"),
            raw_event("l2", message="from elsewhere", logger="noisy.module.sub"),
        ],
    )
    assert got["no token"] == "by-tag"
    assert got["no token either"] is None
    # `%` and `_` are not wildcards, and the quote does not break out of the SQL.
    assert got["100%_done' OR 1=1 -- yes"] == "literal"
    assert got["100 percent done"] is None
    assert got["from the noisy one"] == "by-logger"
    assert got["from elsewhere"] is None


BAD_RULES = [
    ("bad-regex", 'field = "message"\nregex = "(unclosed"', "not valid RE2"),
    ("lookahead", 'field = "message"\nregex = "a(?=b)"', "not valid RE2"),
    ("bad-field", 'field = "mesage"\ncontains = "x"', "unknown field 'mesage'"),
    ("no-kind", None, "missing kind"),
    ("bad-level", None, "level must be one of"),
    (
        "mixed",
        'field = "message"\ncontains = "x"\nany = [{ field = "message", contains = "y" }]',
        "mixes",
    ),
    ("two-ops", 'field = "message"\ncontains = "x"\nprefix = "y"', "exactly one operator"),
]


def _bad_table(rule_id: str, body: str | None) -> str:
    kind = "" if rule_id == "no-kind" else 'kind = "k"\n'
    level = 'level = "loud"\n' if rule_id == "bad-level" else 'level = "info"\n'
    body = body or 'field = "message"\ncontains = "x"'
    return f'[[rules]]\nid = "{rule_id}"\n{kind}{level}{body}\n'


@pytest.mark.parametrize(("rule_id", "body", "reason"), BAD_RULES)
def test_bad_rules_are_refused_by_id(rule_id, body, reason):
    good = (
        '[[rules]]\nid = "fine"\nkind = "k"\nlevel = "info"\nfield = "message"\ncontains = "ok"\n'
    )
    with pytest.raises(rules.RuleError) as err:
        rules.parse(good + _bad_table(rule_id, body), source="t.toml")
    assert [rid for rid, _ in err.value.errors] == [rule_id]
    assert reason in err.value.errors[0][1]
    assert f"rule {rule_id}:" in str(err.value)


def test_duplicate_ids_and_every_bad_rule_reported_together():
    text = (
        '[[rules]]\nid = "a"\nkind = "k"\nlevel = "info"\nfield = "message"\ncontains = "x"\n'
        '[[rules]]\nid = "a"\nkind = "k"\nlevel = "info"\nfield = "message"\ncontains = "y"\n'
        '[[rules]]\nid = "b"\nkind = "k"\nlevel = "info"\nfield = "nope"\ncontains = "y"\n'
    )
    with pytest.raises(rules.RuleError) as err:
        rules.parse(text)
    assert err.value.errors[0] == ("a", "duplicate id")
    assert err.value.errors[1][0] == "b"


def _write(tmp_path, name: str, text: str):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(p)


def test_cli_rules_test_exit_codes(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(main, ["rules", "test", "--rules", "openhuman"])
    assert ok.exit_code == 0, ok.output
    assert "0 failed" in ok.stdout

    failing = _write(
        tmp_path,
        "failing.toml",
        """
        [[rules]]
        id = "token"
        kind = "auth_expired"
        level = "info"
        field = "message"
        contains = "session token"
        examples.match = ["no backend session token", "Session Token gone"]
        examples.no_match = ["session token refreshed"]
        """,
    )
    res = runner.invoke(main, ["rules", "test", "--rules", failing])
    assert res.exit_code == 1
    assert "rule token: 'session token refreshed' matches but should not" in res.stderr
    assert "3 examples checked, 1 failed" in res.stdout

    bad = _write(tmp_path, "bad.toml", _bad_table("bad-regex", BAD_RULES[0][1]))
    res = runner.invoke(main, ["rules", "test", "--rules", bad])
    assert res.exit_code == 2
    assert "rule bad-regex:" in res.stderr and "RE2" in res.stderr

    res = runner.invoke(main, ["rules", "test", "--rules", "no-such-table"])
    assert res.exit_code == 2 and "no rule table" in res.stderr


def test_builtin_tables_pass_their_own_examples():
    for name in rules.builtin_names():
        res = CliRunner().invoke(main, ["rules", "test", "--rules", name])
        assert res.exit_code == 0, (name, res.output)
