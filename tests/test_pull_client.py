"""The Sentry API client against a local HTTP server: paging, 429, 5xx, cut-short bodies, 401."""

from __future__ import annotations

import logging

import pytest
from sentry_fake import T0, FakeSentry, Fault, polling_events

from triage.ingest.sentry_api import (
    SentryAPIError,
    SentryAuthError,
    SentryClient,
    SentryNotFound,
    parse_link_header,
    retry_after_seconds,
)

TOKEN = "test-token-123"


@pytest.fixture
def fake(httpserver) -> FakeSentry:
    f = FakeSentry(httpserver)
    f.add_issue("101", "TAURI-1N", "composio unavailable", polling_events("101", 5, T0))
    return f


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def client(fake, waits) -> SentryClient:
    c = SentryClient(fake.url, TOKEN, retries=3, backoff=0.5, max_backoff=2.0, sleep=waits.append)
    yield c
    c.close()


def test_link_header_docs_example():
    header = (
        "<https://sentry.io/api/0/organizations/acme/issues/123456/events/?&cursor=0:0:1>; "
        'rel="previous"; results="false"; cursor="0:0:1", '
        "<https://sentry.io/api/0/organizations/acme/issues/123456/events/?&cursor=0:100:0>; "
        'rel="next"; results="true"; cursor="0:100:0"'
    )
    links = parse_link_header(header)
    assert links["next"].results is True and links["next"].cursor == "0:100:0"
    assert links["previous"].results is False and links["previous"].cursor == "0:0:1"
    assert links["next"].url.endswith("?&cursor=0:100:0")
    assert parse_link_header("") == {} and parse_link_header("garbage") == {}


def test_retry_after_forms():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_follows_cursors_while_results_true(fake, client):
    pages = list(client.issue_events("acme", "101"))
    assert [len(p.records) for p in pages] == [2, 2, 1]
    ids = [e["eventID"] for p in pages for e in p.records]
    assert len(set(ids)) == 5
    cursors = [q.get("cursor", [None])[0] for _, q in fake.requests()]
    assert cursors == [None, "0:2:0", "0:4:0"]  # stops when next says results="false"
    assert all(q["full"] == ["true"] for _, q in fake.requests())


def test_sends_bearer_token_and_never_shows_it(fake, client):
    list(client.issue_events("acme", "101"))
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r, _ in fake.httpserver.log)
    assert TOKEN not in repr(client) and TOKEN not in str(vars(client).get("base_url"))


def test_429_waits_retry_after_then_continues(fake, client, waits, caplog):
    fake.fail_next("/api/0/organizations/", Fault(429, {"Retry-After": "7"}, '{"detail":"slow"}'))
    with caplog.at_level(logging.WARNING, logger="triage.ingest.pull"):
        pages = list(client.issue_events("acme", "101"))
    assert sum(len(p.records) for p in pages) == 5
    assert waits == [7.0]
    assert "HTTP 429 (rate limited, Retry-After 7 s)" in caplog.text
    assert "retry 1 of 3" in caplog.text


def test_429_longer_than_allowed_stops_clearly(fake, waits):
    c = SentryClient(fake.url, TOKEN, max_retry_after=60, sleep=waits.append)
    fake.fail_next("/api/0/", Fault(429, {"Retry-After": "3600"}))
    with pytest.raises(SentryAPIError, match="asks to wait 3600 s, longer than 60 s"):
        list(c.issue_events("acme", "101"))
    assert waits == []


def test_502_retried_with_exponential_backoff(fake, client, waits):
    for _ in range(2):
        fake.fail_next("/api/0/", Fault(502, body="<html>Bad Gateway</html>"))
    pages = list(client.issue_events("acme", "101"))
    assert sum(len(p.records) for p in pages) == 5
    assert waits == [0.5, 1.0]


def test_5xx_gives_up_after_bounded_retries(fake, client, waits):
    for _ in range(10):
        fake.fail_next("/api/0/", Fault(503))
    with pytest.raises(SentryAPIError, match=r"HTTP 503 from .*gave up after 3 retries"):
        list(client.issue_events("acme", "101"))
    assert waits == [0.5, 1.0, 2.0]  # doubling, capped at max_backoff
    assert len(fake.requests()) == 4


def test_body_cut_short_mid_transfer_is_retried(fake, client, waits):
    fake.fail_next("/api/0/organizations/", Fault(200, cut_short=True))
    pages = list(client.issue_events("acme", "101"))
    assert sum(len(p.records) for p in pages) == 5
    assert len(waits) == 1


def test_truncated_json_body_is_retried(fake, client, waits, caplog):
    fake.fail_next("/api/0/", Fault(200, body='[{"id": "7ca573c0f4814912aaa9bdc77d1a7d51", "ent'))
    with caplog.at_level(logging.WARNING, logger="triage.ingest.pull"):
        pages = list(client.issue_events("acme", "101"))
    assert sum(len(p.records) for p in pages) == 5
    assert "not JSON, perhaps cut short" in caplog.text


def test_401_stops_at_once_with_a_clear_message(fake, waits):
    c = SentryClient(fake.url, "wrong-token-456", sleep=waits.append)
    with pytest.raises(SentryAuthError) as err:
        list(c.issue_events("acme", "101"))
    assert "HTTP 401" in str(err.value) and "Invalid token" in str(err.value)
    assert "SENTRY_AUTH_TOKEN" in str(err.value)
    assert "wrong-token-456" not in str(err.value)
    assert waits == [] and len(fake.requests()) == 1


def test_403_is_an_auth_error_too(fake, client):
    fake.fail_next("/api/0/", Fault(403, body='{"detail": "You do not have permission"}'))
    with pytest.raises(SentryAuthError, match="HTTP 403.*do not have permission"):
        list(client.issue_events("acme", "101"))


def test_404_names_what_to_check(fake, client):
    with pytest.raises(SentryNotFound, match="Check --org, --project and --url"):
        list(client.project_issues("acme", "no-such-project"))


def test_connection_refused_is_retried_then_reported(waits):
    c = SentryClient("http://127.0.0.1:9", TOKEN, retries=2, backoff=0.1, sleep=waits.append)
    with pytest.raises(SentryAPIError, match="connection error.*gave up after 2 retries"):
        c.get(c.url_for("/api/0/organizations/acme/issues/1/events/"))
    assert waits == [0.1, 0.2]


def test_missing_token_is_an_auth_error(monkeypatch):
    monkeypatch.delenv("SENTRY_AUTH_TOKEN", raising=False)
    with pytest.raises(SentryAuthError, match="set SENTRY_AUTH_TOKEN"):
        SentryClient("https://sentry.example.com")


def test_url_from_environment_like_sentry_cli(monkeypatch):
    monkeypatch.setenv("SENTRY_URL", "https://sentry.internal.example/")
    monkeypatch.setenv("SENTRY_AUTH_TOKEN", TOKEN)
    assert SentryClient().base_url == "https://sentry.internal.example"
    monkeypatch.delenv("SENTRY_URL")
    assert SentryClient().base_url == "https://sentry.io"
    with pytest.raises(ValueError, match="invalid Sentry URL"):
        SentryClient("sentry.io", TOKEN)


def test_token_is_never_sent_to_another_host(client):
    with pytest.raises(SentryAPIError, match="refusing to send the auth token"):
        client.get("https://elsewhere.example/api/0/")


def test_slugs_cannot_walk_the_path(client):
    with pytest.raises(ValueError, match="invalid Sentry slug"):
        list(client.issue_events("acme", "../../users"))


def test_since_filters_issues_by_last_seen(fake, client):
    fake.add_issue("202", "TAURI-2", "old", polling_events("202", 1, T0.replace(year=2025)))
    pages = list(client.project_issues("acme", "tauri", since=T0.replace(hour=7)))
    assert [i["shortId"] for p in pages for i in p.records] == ["TAURI-1N"]
    ((_, query),) = fake.requests()
    assert query["query"] == ["lastSeen:>=2026-11-20T07:00:00"]


def test_issue_list_always_sends_a_query_so_archived_issues_come_too(fake, client):
    list(client.project_issues("acme", "tauri"))
    ((path, _),) = fake.requests()
    (raw,) = [r.query_string.decode() for r, _ in fake.httpserver.log]
    assert path == "/api/0/projects/acme/tauri/issues/" and raw == "query="


def test_a_json_object_where_a_list_belongs_is_an_api_error(fake, client):
    fake.fail_next("/api/0/", Fault(200, body='{"detail": "maintenance"}'))
    with pytest.raises(SentryAPIError, match="expected a JSON list from .* got a JSON dict"):
        list(client.issue_events("acme", "101"))


def test_503_with_retry_after_waits_that_long(fake, client, waits):
    fake.fail_next("/api/0/", Fault(503, {"Retry-After": "12"}, "maintenance"))
    assert sum(len(p.records) for p in client.issue_events("acme", "101")) == 5
    assert waits == [12.0]
