"""`triage pull` end to end: the real client, a local Sentry on 127.0.0.1, a real DuckDB file."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sentry_fake import T0, FakeSentry, Fault, api_event, polling_events

import triage
from triage.cli import main

TOKEN = "test-token-123"


@pytest.fixture
def fake(httpserver, monkeypatch) -> FakeSentry:
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
    monkeypatch.delenv("SENTRY_URL", raising=False)
    f = FakeSentry(httpserver)
    f.add_issue(
        "101",
        "TAURI-1N",
        "composio unavailable: no backend session token. Sign in first.",
        polling_events("101", 5, T0),
    )
    f.add_issue(
        "202",
        "TAURI-RUST-7",
        "KeyError: 'user'",
        [
            api_event(
                f"{0xBEEF:08x}{i:024x}",
                "202",
                T0 - timedelta(hours=2, minutes=i),
                exc_type="KeyError",
                message="'user'",
                user_id=f"u-{i}",
            )
            for i in range(3)
        ],
    )
    return f


def _pull(fake: FakeSentry, db, *args: str):
    return CliRunner().invoke(
        main,
        ["pull", "--org", "acme", "--project", "tauri", "--url", fake.url, "--db", str(db), *args],
    )


def _count(db, sql: str, params=None):
    with triage.open(db, read_only=True) as s:
        return s.con.execute(sql, params).fetchone()[0]


def test_pull_stores_every_page_of_issues_and_events(fake, tmp_path):
    db = tmp_path / "t.duckdb"
    r = _pull(fake, db, "--since", "2026-11-20T00:00:00Z")
    assert r.exit_code == 0, r.output
    assert "2 issues" in r.stdout and "8 events: 8 added, 0 duplicates, 0 rejected" in r.stdout
    assert _count(db, "SELECT count(*) FROM events") == 8
    assert _count(db, "SELECT count(DISTINCT group_id) FROM events") == 2
    assert _count(db, "SELECT count(*) FROM events WHERE group_id = '101'") == 5
    assert _count(db, "SELECT max(ts) FROM events").isoformat().startswith("2026-11-20T08:00:20")
    assert _count(db, "SELECT string_agg(short_id, ',' ORDER BY short_id) FROM groups") == (
        "TAURI-1N,TAURI-RUST-7"
    )
    # one ingest_log row per page, named by its URL (cursor included), no token anywhere
    sql = "SELECT count(*) FROM ingest_log WHERE starts_with(source_file, ?)"
    pages = _count(db, sql, [fake.url + "/api/0/"])
    assert pages == 1 + 3 + 2  # issues page; 101: 5 events in pages of 2; 202: 3 events
    assert (
        _count(db, "SELECT count(*) FROM ingest_log WHERE source_file LIKE '%cursor=0:2:0%'") == 2
    )
    assert _count(db, "SELECT status FROM pull_log") == "ok"
    assert TOKEN.encode() not in db.read_bytes()
    assert TOKEN not in r.output
    # progress on stderr, one line per page
    assert r.stderr.count("events page ") == 5 and r.stderr.count("issues page 1:") == 1


def test_pull_again_adds_nothing(fake, tmp_path):
    db = tmp_path / "t.duckdb"
    assert _pull(fake, db, "--since", "2026-11-20").exit_code == 0
    r = _pull(fake, db, "--since", "2026-11-20", "--quiet")
    assert r.exit_code == 0
    assert "8 events: 0 added" in r.stdout
    assert _count(db, "SELECT count(*) FROM events") == 8


def test_pull_rides_out_429_502_and_cut_short_bodies(fake, tmp_path):
    db = tmp_path / "t.duckdb"
    fake.fail_next("/api/0/projects/", Fault(429, {"Retry-After": "1"}, '{"detail": "slow down"}'))
    fake.fail_next("/api/0/organizations/acme/issues/101/", Fault(502, body="Bad Gateway"))
    fake.fail_next("/api/0/organizations/acme/issues/101/", Fault(200, cut_short=True))
    fake.fail_next("/api/0/organizations/acme/issues/202/", Fault(200, body='[{"eventID": "ab'))
    r = _pull(fake, db, "--since", "2026-11-20", "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["schema"] == "triage.pull/1"
    assert (doc["events"], doc["added"], doc["rejects"]) == (8, 8, 0)
    assert doc["requests"] == 6 + 4  # six pages, four retries
    assert "HTTP 429 (rate limited, Retry-After 1 s)" in r.stderr
    assert "HTTP 502 from" in r.stderr and "retry 1 of 5" in r.stderr
    assert "connection error" in r.stderr
    assert "not JSON, perhaps cut short" in r.stderr
    assert _count(db, "SELECT count(*) FROM events") == 8
    assert _count(db, "SELECT count(*) FROM rejects") == 0


def test_pull_401_stops_with_exit_2_and_one_line(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", "revoked-token-789")
    db = tmp_path / "t.duckdb"
    r = _pull(fake, db)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"Error: HTTP 401 from {fake.url}/api/0/projects/acme/tauri/")
    assert "Invalid token" in r.stderr and "Check SENTRY_AUTH_TOKEN" in r.stderr
    assert "revoked-token-789" not in r.output and "Traceback" not in r.output
    assert len(fake.requests()) == 1  # no retry
    assert _count(db, "SELECT status FROM pull_log") == "failed"
    assert _count(db, "SELECT count(*) FROM events") == 0


def test_pull_401_midway_keeps_whole_pages_and_resumes(fake, tmp_path):
    db = tmp_path / "t.duckdb"
    fake.fail_next(
        "/api/0/organizations/acme/issues/202/", Fault(401, body='{"detail": "expired"}')
    )
    r = _pull(fake, db, "--since", "2026-11-20")
    assert r.exit_code == 2 and ": expired. Check SENTRY_AUTH_TOKEN" in r.stderr
    assert _count(db, "SELECT count(*) FROM events") == 5  # issue 101's pages, whole
    r2 = _pull(fake, db, "--since", "last")  # no complete pull yet: the default window
    assert r2.exit_code == 0
    assert "no earlier complete pull of acme/tauri" in r2.stderr


def test_pull_gives_up_on_5xx_with_exit_3(fake, tmp_path):
    for _ in range(5):
        fake.fail_next("/api/0/projects/", Fault(503, body="down"))
    r = _pull(fake, tmp_path / "t.duckdb", "--retries", "1")
    assert r.exit_code == 3
    assert r.stderr.strip().splitlines()[-1].startswith("Error: Sentry API: HTTP 503 from")
    assert "gave up after 1 retries" in r.stderr


def test_pull_since_last_fetches_only_newer_pages(fake, tmp_path):
    db = tmp_path / "t.duckdb"
    assert _pull(fake, db, "--since", "2026-11-20").exit_code == 0
    newest = T0 + timedelta(seconds=20)  # issue 101's fifth event, the newest
    first_run = len(fake.requests())
    fake.add_issue(
        "101",
        "TAURI-1N",
        "composio unavailable",
        [
            api_event(f"{0x101:08x}{i:024x}", "101", T0 + timedelta(hours=1, seconds=5 * i))
            for i in range(100, 103)
        ],
    )
    r = _pull(fake, db, "--since", "last", "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["since"] == newest.isoformat() and doc["since_from"].startswith("last (")
    assert doc["issues"] == 1  # issue 202 was last seen before: not listed
    assert (doc["events"], doc["added"], doc["duplicates"]) == (4, 3, 1)  # the newest again, once
    later = fake.requests()[first_run:]
    assert later[0][1]["query"] == ["lastSeen:>=2026-11-20T08:00:20"]
    assert all(q["start"] == ["2026-11-20T08:00:20"] for p, q in later[1:])
    assert all("/issues/202/" not in p for p, _ in later)
    assert _count(db, "SELECT count(*) FROM events") == 11


def test_pull_json_keeps_stdout_machine_readable(fake, tmp_path):
    r = _pull(fake, tmp_path / "t.duckdb", "--since", "2026-11-19", "--format", "json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["findings"] == [] and doc["org"] == "acme" and doc["project"] == "tauri"
    assert "events page" in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since 'yesterday': expected a duration"),
        (["--since", "2099-01-01"], "is in the future"),
        (["--url", "sentry.example.com"], "invalid Sentry URL"),
        (["--db", ":memory:"], "needs a database file"),
    ],
)
def test_pull_usage_errors_exit_2(fake, tmp_path, args, message):
    base = ["pull", "--org", "acme", "--project", "tauri", "--db", str(tmp_path / "t.duckdb")]
    r = CliRunner().invoke(main, [*base, "--url", fake.url, *args])
    assert r.exit_code == 2, r.output
    assert message in r.stderr
    assert fake.requests() == []


def test_pull_without_token_exits_2(fake, tmp_path, monkeypatch):
    monkeypatch.delenv("SENTRY_AUTH_TOKEN")
    r = _pull(fake, tmp_path / "t.duckdb")
    assert r.exit_code == 2 and "set SENTRY_AUTH_TOKEN" in r.stderr
    assert fake.requests() == []


def test_store_pull_api_twin(fake, tmp_path):
    from triage.ingest.sentry_api import SentryClient

    with triage.open(tmp_path / "t.duckdb") as s, SentryClient(fake.url) as client:
        res = s.pull("acme", "tauri", since="2026-11-20", client=client)
        assert (res.issues, res.events, res.added) == (2, 8, 8)
        assert s.sql("SELECT count(*) AS n FROM events").n[0] == 8


def test_scheduled_job_fails_once_per_new_bursting_group(fake, tmp_path):
    """Nightly `pull --since last --fail-on burst`: a new loop fails the run that first sees it."""
    db = tmp_path / "job.duckdb"
    fake.add_issue(
        "101",
        "TAURI-1N",
        "composio unavailable",
        polling_events("101", 30, T0 + timedelta(seconds=25)),
    )
    job = ["--fail-on", "burst", "--format", "json", "--quiet"]
    r1 = _pull(fake, db, "--since", "2026-11-20", *job)
    assert r1.exit_code == 1, r1.output
    assert "fail-on burst: new bursting group TAURI-1N" in r1.stderr
    assert "every 5.0 s" in r1.stderr
    assert [f["group"] for f in json.loads(r1.stdout)["findings"]] == ["TAURI-1N"]

    fake.add_issue(
        "303",
        "TAURI-9",
        "sync failed: 503",
        polling_events(
            "303", 40, T0 + timedelta(hours=2), 30.0, user_id="bob", message="sync failed: 503"
        ),
    )
    r2 = _pull(fake, db, "--since", "last", *job)
    assert r2.exit_code == 1, r2.output
    lines = [line for line in r2.stderr.splitlines() if line.startswith("fail-on")]
    assert len(lines) == 1 and "new bursting group TAURI-9" in lines[0]
    assert "every 30.0 s" in lines[0] and "1 user(s)" in lines[0]
    assert json.loads(r2.stdout)["added"] == 40

    r3 = _pull(fake, db, "--since", "last", *job)
    assert r3.exit_code == 0, r3.output
    assert "fail-on" not in r3.stderr
    assert json.loads(r3.stdout)["findings"] == []


def test_pull_fail_on_rejects_names_the_page(fake, tmp_path):
    good = api_event(f"{0xCAFE:032x}", "202", T0 - timedelta(hours=3), message="fine")
    page = json.dumps(["not an event", good])
    fake.fail_next("/api/0/organizations/acme/issues/202/", Fault(200, body=page))
    r = _pull(fake, tmp_path / "t.duckdb", "--since", "2026-11-20", "--fail-on", "rejects")
    assert r.exit_code == 1, r.output
    assert "1 rejected" in r.stdout
    line = [x for x in r.stderr.splitlines() if x.startswith("fail-on rejects:")]
    assert len(line) == 1
    assert f"{fake.url}/api/0/organizations/acme/issues/202/events/?full=true" in line[0]
    assert ":1: " in line[0] and "not" in line[0]
    assert (
        _count(
            tmp_path / "t.duckdb",
            "SELECT count(*) FROM events WHERE event_id = ?",
            [good["eventID"]],
        )
        == 1
    )


def test_pull_on_a_locked_database_fails_before_any_request(fake, tmp_path):
    import subprocess
    import sys

    db = tmp_path / "t.duckdb"
    triage.open(db).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time,triage; d=triage.open(sys.argv[1]); "
            "print('ready', flush=True); time.sleep(30)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        r = _pull(fake, db, "--wait", "0.5")
        assert r.exit_code == 2
        assert f"is locked by process {holder.pid}" in r.stderr and "(waited 0." in r.stderr
        assert fake.requests() == []
    finally:
        holder.kill()
        holder.wait()
