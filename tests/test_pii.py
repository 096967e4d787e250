"""Personal data: emails and IP addresses from user fields, tags, request data and rejected records
are never stored (unless ``--keep-pii``); message texts are stored as sent (rules match them) but
masked in every output. The fixtures (tests/data/pii) carry two sets of values:

- STORED_NEVER: in user fields, tags, request data and a rejected line (with a bearer token);
- MESSAGE_ONLY: inside message and exception texts, kept in those columns only.

The scan reads the database file's bytes, every table's every value through SQL, and the output
of every command that shows events; with ``--keep-pii`` the same scan must find them (so the scan
itself is shown to work).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from triage.cli import main

PII = Path(__file__).parent / "data" / "pii"

STORED_NEVER = [
    "id-is-email@example.com",
    "203.0.113.7",
    "username-email@example.org",
    "only-email@example.net",
    "198.51.100.23",
    "2001:db8::1234",
    "2001:db8::99",
    "tag-user@example.com",
    "192.0.2.55",
    "192.0.2.99",
    "192.0.2.100",
    "reject-email@example.com",
    "192.0.2.200",
    "sntrys_eyJpYXQiOjE3MDAwMDAwMDB9_rejecttoken",
    "api-email@example.com",
    "192.0.2.77",
    "192.0.2.78",
    "192.0.2.79",
    "192.0.2.80",
    "display-email@example.com",
    "192.0.2.66",
    "env-email@example.com",
    "192.0.2.44",
    "poller@example.com",
    "192.0.2.150",
]
MESSAGE_ONLY = ["msg-victim@example.net", "198.51.100.77", "exc-victim@example.net"]
# Version strings look like IPv4 addresses; they are not personal data and stay as sent.
NOT_PII = ["1.2.3.4", "10.0.19045.1"]
# title is Sentry's title, made from those same texts.
MESSAGE_COLUMNS = {"message", "exc_value", "exc_chain", "title"}


def _ingest(db: Path, *extra: str) -> None:
    res = CliRunner().invoke(main, ["ingest", "--db", str(db), "-q", *extra, str(PII)])
    assert res.exit_code == 0, res.output


def _table_values(db: Path) -> dict[tuple[str, str], str]:
    """Every column of every table as one text blob: (table, column) -> text."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for (table,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT internal"
        ).fetchall():
            for (col,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]
            ).fetchall():
                rows = con.execute(f'SELECT CAST("{col}" AS VARCHAR) FROM "{table}"').fetchall()
                out[(table, col)] = "\n".join(r[0] for r in rows if r[0] is not None)
        return out
    finally:
        con.close()


def _outputs(db: Path, tmp_path: Path) -> dict[str, str]:
    """The text of every output that shows stored events or rejects."""
    run = CliRunner().invoke
    out: dict[str, str] = {}
    for fmt in ("table", "json", "markdown", "csv"):
        res = run(main, ["report", "--db", str(db), "--rules", "openhuman", "--format", fmt])
        assert res.exit_code == 0, res.output
        out[f"report {fmt}"] = res.output
    html = tmp_path / "report.html"
    res = run(main, ["report", "--db", str(db), "--format", "html", "-o", str(html)])
    assert res.exit_code == 0, res.output
    out["report html"] = html.read_text(encoding="utf-8")
    for fmt in ("table", "json", "csv"):
        res = run(main, ["bursts", "--db", str(db), "--min-events", "3", "--format", fmt])
        assert res.exit_code == 0, res.output
        out[f"bursts {fmt}"] = res.output
    for fmt in ("table", "markdown", "json"):
        res = run(
            main,
            [
                "diff",
                "--db",
                str(db),
                "--base",
                "openhuman-v0.53.20",
                "--head",
                "openhuman",
                "--format",
                fmt,
            ],
        )
        assert res.exit_code == 0, res.output
        out[f"diff {fmt}"] = res.output
    res = run(main, ["rejects", "--db", str(db)])
    assert res.exit_code == 0, res.output
    out["rejects"] = res.output
    return out


def test_no_personal_data_stored_or_shown(tmp_path):
    db = tmp_path / "pii.duckdb"
    _ingest(db)
    blob = db.read_bytes()
    for value in STORED_NEVER:
        assert value.encode() not in blob, f"{value} in the database file"
    for (table, col), text in _table_values(db).items():
        for value in STORED_NEVER:
            assert value not in text, f"{value} stored in {table}.{col}"
        if col not in MESSAGE_COLUMNS:
            for value in MESSAGE_ONLY:
                assert value not in text, f"{value} stored in {table}.{col}"
    values = _table_values(db)
    # Message texts stay as sent: rules match them.
    assert "msg-victim@example.net" in values[("events", "message")]
    assert "exc-victim@example.net" in values[("events", "exc_value")]
    # Version strings are not addresses.
    tags = values[("events", "tags")]
    assert all(v in tags for v in NOT_PII), tags
    for name, text in _outputs(db, tmp_path).items():
        for value in STORED_NEVER + MESSAGE_ONLY:
            assert value not in text, f"{value} in the output of {name}"


def test_users_stay_distinct_and_keyed(tmp_path, monkeypatch):
    """Users known by an email or IP are counted by a stand-in: one per person, not one per
    event, and not md5(email) (a known email could be confirmed by hashing it)."""
    import hashlib

    monkeypatch.delenv("TRIAGE_ANON_SECRET", raising=False)
    db = tmp_path / "pii.duckdb"
    _ingest(db)
    con = duckdb.connect(str(db), read_only=True)
    users = dict(con.execute("SELECT event_id, user_id FROM events").fetchall())
    con.close()
    assert all(u and u.startswith("anon:") for u in users.values()), users
    polls = {u for e, u in users.items() if e.startswith("e")}
    assert len(polls) == 1  # the polling user's 6 events: one person
    others = {e: u for e, u in users.items() if not e.startswith("e")}
    assert len(set(others.values())) == len(others)  # every other fixture event is another person
    for email in ("only-email@example.net", "id-is-email@example.com"):
        assert "anon:" + hashlib.md5(email.encode()).hexdigest()[:12] not in users.values()
    # The same person in a second database gets another stand-in (a per-database secret).
    db2 = tmp_path / "other.duckdb"
    _ingest(db2)
    con = duckdb.connect(str(db2), read_only=True)
    users2 = dict(con.execute("SELECT event_id, user_id FROM events").fetchall())
    con.close()
    assert users2.keys() == users.keys()
    assert set(users.values()).isdisjoint(users2.values())


def test_stand_in_is_stable_within_a_database(tmp_path):
    """Two events of one email-only user share a stand-in, across files and runs."""
    db = tmp_path / "pii.duckdb"
    one = tmp_path / "one.ndjson"
    two = tmp_path / "two.ndjson"
    for path, eid in ((one, "e1" * 16), (two, "e2" * 16)):
        ev = {"event_id": eid, "message": "m", "user": {"email": "same@example.com"}}
        path.write_text(json.dumps(ev) + "\n")
    for path in (one, two):
        res = CliRunner().invoke(main, ["ingest", "--db", str(db), "-q", str(path)])
        assert res.exit_code == 0, res.output
    con = duckdb.connect(str(db), read_only=True)
    ids = {r[0] for r in con.execute("SELECT user_id FROM events").fetchall()}
    con.close()
    assert len(ids) == 1 and next(iter(ids)).startswith("anon:"), ids


def test_keep_pii_stores_them(tmp_path):
    """--keep-pii stores user fields and tags as sent (and so the scan above can see them)."""
    db = tmp_path / "pii.duckdb"
    _ingest(db, "--keep-pii")
    values = _table_values(db)
    users = values[("events", "user_id")]
    assert "id-is-email@example.com" in users and "203.0.113.7" in users
    assert "tag-user@example.com" in values[("events", "tags")]
    assert "reject-email@example.com" in values[("rejects", "raw_text")]
    # Shown to people, user ids that are emails are still stand-ins.
    args = ["bursts", "--db", str(db), "--min-events", "3", "--format", "csv"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0 and "anon:" in res.output, res.output
    assert "poller@example.com" not in res.output


def test_rejects_output_masks_message_text(tmp_path):
    """Stored raw text kept with --keep-pii is still masked when `triage rejects` prints it."""
    db = tmp_path / "pii.duckdb"
    _ingest(db, "--keep-pii")
    res = CliRunner().invoke(main, ["rejects", "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "reject-email@example.com" not in res.output
    assert "sntrys_eyJpYXQiOjE3MDAwMDAwMDB9_rejecttoken" not in res.output
    assert re.search(r"<email>", res.output), res.output


@pytest.mark.parametrize("keep", [False, True])
def test_keep_raw_scrubs_request_data(tmp_path, keep):
    """--keep-raw stores the payload: its request data and user fields are scrubbed too."""
    db = tmp_path / "pii.duckdb"
    _ingest(db, "--keep-raw", *(["--keep-pii"] if keep else []))
    raw = _table_values(db)[("events", "raw")]
    assert ("192.0.2.99" in raw) is keep
    assert ("192.0.2.100" in raw) is keep
    assert ("only-email@example.net" in raw) is keep
