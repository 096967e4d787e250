"""Hostile Sentry servers cannot make a pull read without end, hang, loop, or crash.

Each server misbehaves in one way (an endless chunked body, a body dripped a byte at a time, a
cursor that leads back to a page already read, a ``Retry-After`` that is not a number) and the
client stops with a message that names the bound and the option that raises it. The misbehaving
servers end by themselves after a while, so a client without the bound fails the test instead of
hanging the suite.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sentry_fake import T0, FakeSentry, Fault, polling_events
from werkzeug import Request, Response

from triage.cli import main
from triage.ingest.sentry_api import SentryAPIError, SentryClient, retry_after_seconds

TOKEN = "test-token-123"


@pytest.fixture
def waits() -> list[float]:
    return []


def _json_list_stream(total_bytes: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """A valid JSON list of zeros, ``total_bytes`` long, sent in chunks (no Content-Length)."""
    yield b"["
    sent = 1
    piece = b"0," * (chunk // 2)
    while sent < total_bytes:
        yield piece
        sent += len(piece)
    yield b"0]"


def test_endless_chunked_body_stops_at_the_size_cap(httpserver, waits):
    # 64 MB when the cap is 1 MB: without a cap the client reads it all (and an endless one, 2.2
    # GB in 11 s, until memory runs out)
    httpserver.expect_request("/api/0/organizations/acme/issues/1/events/").respond_with_handler(
        lambda req: Response(_json_list_stream(64 * 1024 * 1024), 200, mimetype="application/json")
    )
    c = SentryClient(httpserver.url_for("/"), TOKEN, max_response_bytes=1 << 20, sleep=waits.append)
    with pytest.raises(SentryAPIError) as err:
        list(c.issue_events("acme", "1"))
    msg = str(err.value)
    assert "larger than 1 MiB" in msg and "--max-response-mb" in msg
    assert waits == []  # a body too large is not retried: it would be as large again


def _drip(seconds: float) -> Iterator[bytes]:
    """A JSON list dripped one byte every 0.1 s for ``seconds`` (each read well inside any read
    timeout), then closed so that a client without a deadline gets a valid page in the end."""
    yield b"["
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.1)
        yield b" "
    yield b"]"


def test_slow_drip_body_stops_at_the_request_deadline(httpserver, waits):
    httpserver.expect_request("/api/0/organizations/acme/issues/1/events/").respond_with_handler(
        lambda req: Response(_drip(8.0), 200, mimetype="application/json")
    )
    c = SentryClient(
        httpserver.url_for("/"), TOKEN, retries=0, request_timeout=1.0, sleep=waits.append
    )
    with pytest.raises(SentryAPIError) as err:
        list(c.issue_events("acme", "1"))
    msg = str(err.value)
    assert "did not complete within 1 s" in msg and "--request-timeout" in msg


def test_run_deadline_bounds_the_whole_pull(httpserver, waits):
    httpserver.expect_request("/api/0/organizations/acme/issues/1/events/").respond_with_handler(
        lambda req: Response(_drip(8.0), 200, mimetype="application/json")
    )
    c = SentryClient(
        httpserver.url_for("/"), TOKEN, retries=5, max_duration=1.5, sleep=waits.append
    )
    with pytest.raises(SentryAPIError) as err:
        list(c.issue_events("acme", "1"))
    msg = str(err.value)
    assert "--max-duration" in msg and "1.5 s" in msg
    assert len(httpserver.log) <= 2  # no retry past the run's deadline


def test_a_wait_past_the_run_deadline_is_not_slept(httpserver, waits):
    fake = FakeSentry(httpserver)
    fake.add_issue("101", "TAURI-1N", "composio", polling_events("101", 3, T0))
    fake.fail_next("/api/0/", Fault(429, {"Retry-After": "120"}))
    c = SentryClient(fake.url, TOKEN, max_duration=60, sleep=waits.append)
    with pytest.raises(SentryAPIError, match="--max-duration"):
        list(c.issue_events("acme", "101"))
    assert waits == []


def _cycling_server(httpserver) -> None:
    """Pages whose next cursors go a -> b -> a ...; after 40 requests it says no more results,
    so a client that follows the cycle ends (and fails the test) instead of hanging."""
    served = {"n": 0}

    def handle(req: Request) -> Response:
        served["n"] += 1
        cursor = req.args.get("cursor")
        nxt = "0:b:0" if cursor in (None, "0:a:0") else "0:a:0"
        more = "true" if served["n"] < 40 else "false"
        link = f'<{req.base_url}?cursor={nxt}>; rel="next"; results="{more}"; cursor="{nxt}"'
        body = json.dumps([{"id": f"{served['n']:032x}"}])
        return Response(body, 200, {"Link": link}, mimetype="application/json")

    httpserver.expect_request("/api/0/organizations/acme/issues/1/events/").respond_with_handler(
        handle
    )


def test_cursor_cycle_is_detected(httpserver, waits):
    _cycling_server(httpserver)
    c = SentryClient(httpserver.url_for("/"), TOKEN, sleep=waits.append)
    with pytest.raises(SentryAPIError) as err:
        list(c.issue_events("acme", "1"))
    assert "cursor cycle" in str(err.value) and "0:a:0" in str(err.value)
    assert len(httpserver.log) == 3  # first page, a, b; a again is not requested


def test_pages_per_run_are_capped(httpserver, waits):
    fake = FakeSentry(httpserver, page_size=1)
    fake.add_issue("101", "TAURI-1N", "composio", polling_events("101", 5, T0))
    c = SentryClient(fake.url, TOKEN, max_pages=3, sleep=waits.append)
    with pytest.raises(SentryAPIError) as err:
        list(c.issue_events("acme", "101"))
    assert "more than 3 pages" in str(err.value) and "--max-pages" in str(err.value)
    assert len(fake.requests()) == 3


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("nan", None),
        ("NaN", None),
        ("-5", None),
        ("-inf", None),
        ("1e999", float("inf")),
        ("inf", float("inf")),
        ("99999999999999999999999", 99999999999999999999999.0),
        ("0", 0.0),
        ("2.5", 2.5),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past: no wait
        ("Wed, 21 Oct 9999 07:28:00 GMT", "huge"),
        ("Mon, 99 Foo 2015 99:99:99 GMT", None),
        ("\x00\x01", None),
    ],
)
def test_retry_after_is_parsed_defensively(header, expected):
    got = retry_after_seconds(header, now=1445412470.0)
    if expected == "huge":
        assert got is not None and got > 1e9
    else:
        assert got == expected


@pytest.mark.parametrize("value", ["nan", "-5", "garbage"])
def test_429_with_a_senseless_retry_after_backs_off_normally(httpserver, waits, value):
    fake = FakeSentry(httpserver)
    fake.add_issue("101", "TAURI-1N", "composio", polling_events("101", 3, T0))
    fake.fail_next("/api/0/", Fault(429, {"Retry-After": value}))
    c = SentryClient(fake.url, TOKEN, backoff=0.5, sleep=waits.append)
    assert sum(len(p.records) for p in c.issue_events("acme", "101")) == 3
    assert waits == [0.5]


@pytest.mark.parametrize("value", ["inf", "1e999", "Wed, 21 Oct 9999 07:28:00 GMT"])
def test_429_with_a_huge_retry_after_stops_clearly(httpserver, waits, value):
    fake = FakeSentry(httpserver)
    fake.add_issue("101", "TAURI-1N", "composio", polling_events("101", 3, T0))
    fake.fail_next("/api/0/", Fault(429, {"Retry-After": value}))
    c = SentryClient(fake.url, TOKEN, sleep=waits.append)
    with pytest.raises(SentryAPIError, match="longer than 300 s.*--max-retry-after"):
        list(c.issue_events("acme", "101"))
    assert waits == []


def test_cli_retry_after_nan_does_not_crash(httpserver, tmp_path, monkeypatch):
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
    fake = FakeSentry(httpserver)
    fake.add_issue("101", "TAURI-1N", "composio", polling_events("101", 3, T0))
    fake.fail_next("/api/0/", Fault(429, {"Retry-After": "nan"}))
    args = ["pull", "--org", "acme", "--project", "tauri", "--url", fake.url]
    r = CliRunner().invoke(main, [*args, "--db", str(tmp_path / "t.duckdb"), "--since", "30d"])
    assert r.exit_code == 0, r.output
    assert "3 events: 3 added" in r.stdout


def test_cli_bounds_have_flags_and_name_them(httpserver, tmp_path, monkeypatch):
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
    fake = FakeSentry(httpserver, page_size=1)
    fake.add_issue("101", "TAURI-1N", "composio", polling_events("101", 5, T0))
    args = ["pull", "--org", "acme", "--project", "tauri", "--url", fake.url, "--since", "30d"]
    db = str(tmp_path / "t.duckdb")
    r = CliRunner().invoke(main, [*args, "--db", db, "--max-pages", "3"])
    assert r.exit_code == 3, r.output
    assert "more than 3 pages" in r.stderr and "--max-pages" in r.stderr
    r = CliRunner().invoke(main, [*args, "--db", db, "--max-pages", "10"])
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "acme/x"], "invalid Sentry slug"),
        (["--project", "../users"], "invalid Sentry slug"),
        (["--since", "99999999999d"], "--since '99999999999d'"),
        (["--max-pages", "0"], "--max-pages"),
        (["--max-response-mb", "nan"], "--max-response-mb"),
        (["--request-timeout", "-1"], "--request-timeout"),
    ],
)
def test_pull_usage_errors_exit_2_not_4(httpserver, tmp_path, monkeypatch, args, message):
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
    fake = FakeSentry(httpserver)
    base = ["pull", "--org", "acme", "--project", "tauri", "--url", fake.url]
    r = CliRunner().invoke(main, [*base, "--db", str(tmp_path / "t.duckdb"), *args])
    assert r.exit_code == 2, r.output
    assert message in r.stderr and "unexpected" not in r.stderr
    assert fake.requests() == []
