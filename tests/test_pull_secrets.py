"""The Sentry token and URL credentials never reach stderr, stdout, pull_log or the database file.

The server here echoes what it was sent (the ``Authorization`` header, in an error body and a
header), as misconfigured proxies and some error pages do; every output of the pull is then
searched for the secret's bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sentry_fake import T0, FakeSentry, polling_events
from werkzeug import Request, Response

import triage
from triage.cli import main

TOKEN = "sntrys_SECRET0123456789abcdefTOKEN"
PASSWORD = "hunter2-PASSWORD-xyz"


def _file_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def _echo(status: int):
    def handle(req: Request) -> Response:
        auth = req.headers.get("Authorization", "")
        body = json.dumps({"detail": f"Invalid token in header Authorization: {auth}"})
        return Response(body, status, {"X-Echo": auth}, mimetype="application/json")

    return handle


@pytest.mark.parametrize("status", [401, 403, 400, 418])
def test_an_error_body_echoing_the_token_does_not_leak_it(
    httpserver, tmp_path, monkeypatch, status
):
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
    httpserver.expect_request("/api/0/projects/acme/tauri/issues/").respond_with_handler(
        _echo(status)
    )
    dbdir = tmp_path / "db"
    dbdir.mkdir()
    db = dbdir / "t.duckdb"
    args = ["pull", "--org", "acme", "--project", "tauri", "--url", httpserver.url_for("/")]
    r = CliRunner().invoke(main, [*args, "--db", str(db), "--format", "json"])
    assert r.exit_code in (2, 3), r.output
    assert f"HTTP {status}" in r.stderr and "Invalid token in header" in r.stderr
    assert TOKEN not in r.stderr and TOKEN not in r.stdout
    assert "Bearer [redacted]" in r.stderr or "[redacted]" in r.stderr
    with triage.open(db, read_only=True) as s:
        (error,) = s.con.execute("SELECT error FROM pull_log").fetchone()
        assert error and "HTTP" in error and TOKEN not in error
    assert TOKEN.encode() not in _file_bytes(dbdir)


def test_a_token_echoed_on_a_retried_answer_does_not_leak(httpserver, tmp_path, monkeypatch):
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
    httpserver.expect_request("/api/0/projects/acme/tauri/issues/").respond_with_handler(_echo(500))
    dbdir = tmp_path / "db"
    dbdir.mkdir()
    args = ["pull", "--org", "acme", "--project", "tauri", "--url", httpserver.url_for("/")]
    r = CliRunner().invoke(main, [*args, "--db", str(dbdir / "t.duckdb"), "--retries", "0"])
    assert r.exit_code == 3, r.output
    assert TOKEN not in r.output
    assert TOKEN.encode() not in _file_bytes(dbdir)


def test_url_credentials_are_refused_without_printing_them(httpserver, tmp_path, monkeypatch):
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
    fake = FakeSentry(httpserver)
    fake.add_issue("101", "TAURI-1N", "composio", polling_events("101", 3, T0))
    url = fake.url.replace("http://", f"http://admin:{PASSWORD}@")
    dbdir = tmp_path / "db"
    dbdir.mkdir()
    args = ["pull", "--org", "acme", "--project", "tauri", "--url", url, "--since", "30d"]
    r = CliRunner().invoke(main, [*args, "--db", str(dbdir / "t.duckdb")])
    assert r.exit_code == 2, r.output
    assert "credentials" in r.stderr and "admin:***@" in r.stderr
    assert PASSWORD not in r.output
    assert PASSWORD.encode() not in _file_bytes(dbdir)
    assert fake.requests() == []


def test_url_credentials_from_the_environment_are_refused_too(httpserver, tmp_path, monkeypatch):
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
    fake = FakeSentry(httpserver)
    monkeypatch.setenv("SENTRY_URL", fake.url.replace("http://", f"http://admin:{PASSWORD}@"))
    args = ["pull", "--org", "acme", "--project", "tauri", "--db", str(tmp_path / "t.duckdb")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert PASSWORD not in r.output and fake.requests() == []


def test_a_successful_pull_stores_no_token(httpserver, tmp_path, monkeypatch):
    """The token is sent, and stored nowhere: not in ingest_log sources, pull_log, or events."""
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", "test-token-123")
    fake = FakeSentry(httpserver)
    fake.add_issue("101", "TAURI-1N", "composio", polling_events("101", 3, T0))
    dbdir = tmp_path / "db"
    dbdir.mkdir()
    args = ["pull", "--org", "acme", "--project", "tauri", "--url", fake.url, "--since", "30d"]
    r = CliRunner().invoke(main, [*args, "--db", str(dbdir / "t.duckdb"), "--keep-raw"])
    assert r.exit_code == 0, r.output
    assert b"test-token-123" not in _file_bytes(dbdir)
