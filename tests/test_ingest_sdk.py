"""Events captured from the real sentry-sdk (a capturing Transport) ingest with the right fields,
both as the envelopes the SDK writes and as raw event JSON."""

from __future__ import annotations

import json
import logging

import pytest
import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.transport import Transport


class CaptureTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)


@pytest.fixture(scope="module")
def captured():
    """Real envelopes: an exception, a chained exception, a message, a logging record, a
    transaction (not an event: skipped)."""
    t = CaptureTransport()
    sentry_sdk.init(
        dsn=None,
        transport=t,
        release="app@1.2.3",
        environment="test",
        default_integrations=False,
        integrations=[LoggingIntegration(level=None, event_level=logging.ERROR)],
        traces_sample_rate=1.0,
    )
    try:
        sentry_sdk.set_user({"id": 42, "email": "someone@example.com"})
        sentry_sdk.set_tag("method", "openhuman.composio_list_connections")
        try:
            print(1 / 0)
        except ZeroDivisionError:
            sentry_sdk.capture_exception()
        try:
            try:
                raise ValueError("inner cause 17")
            except ValueError as exc:
                raise KeyError("outer") from exc
        except KeyError:
            sentry_sdk.capture_exception()
        sentry_sdk.capture_message("composio unavailable: no backend session token", "warning")
        logging.getLogger("app.sync").error("sync failed after %s tries", 3)
        with sentry_sdk.start_transaction(name="poll", op="task"):
            pass
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
    return t.envelopes


def _events(db):
    return {r["event_id"]: r for r in db.sql("SELECT * FROM events").to_dict("records")}


def _check(events, envelopes):
    payloads = [e.get_event() for e in envelopes if e.get_event() is not None]
    assert len(payloads) == 4
    for p in payloads:
        got = events[p["event_id"]]
        assert got["release"] == "app@1.2.3" and got["environment"] == "test"
        assert got["user_id"] == "42"  # an int id in the payload
        assert got["tags"]["method"] == "openhuman.composio_list_connections"
        assert got["level"] == p["level"]
        assert got["platform"] == "python"
        if "exception" in p:
            chain = p["exception"]["values"]
            assert got["exc_type"] == chain[-1]["type"]
            assert [c["type"] for c in got["exc_chain"]] == [c["type"] for c in chain]
    by_type = {events[p["event_id"]]["exc_type"]: events[p["event_id"]] for p in payloads}
    assert by_type["ZeroDivisionError"]["exc_value"] == "division by zero"
    chained = by_type["KeyError"]
    assert [c["type"] for c in chained["exc_chain"]] == ["ValueError", "KeyError"]
    assert chained["exc_chain"][0]["value"] == "inner cause 17"
    msgs = {e["message"]: e for e in events.values() if e["message"]}
    assert msgs["composio unavailable: no backend session token"]["level"] == "warning"
    log = msgs["sync failed after 3 tries"]
    assert log["logger"] == "app.sync" and log["level"] == "error"
    assert log["template"] == "sync failed after <num> tries"


def test_sdk_envelopes_ingest_event_items_and_skip_the_transaction(captured, db, tmp_path):
    folder = tmp_path / "envelopes"
    folder.mkdir()
    for i, env in enumerate(captured):
        (folder / f"{i}.envelope").write_bytes(env.serialize())
    res = db.ingest([folder])
    assert sum(f.added for f in res.files) == 4
    assert sum(f.skipped for f in res.files) == 1  # the transaction
    assert all(f.kind == "envelope" and f.accounted for f in res.files)
    _check(_events(db), captured)


def test_several_envelopes_in_one_file(captured, db, tmp_path):
    f = tmp_path / "all.envelopes"
    f.write_bytes(b"\n".join(env.serialize() for env in captured))
    res = db.ingest([f]).files[0]
    assert (res.added, res.skipped, res.rejects) == (4, 1, 0)
    _check(_events(db), captured)


def test_sdk_events_as_raw_ndjson_and_as_an_array(captured, tmp_path):
    import triage

    payloads = [e.get_event() for e in captured if e.get_event() is not None]
    (tmp_path / "a.ndjson").write_text("\n".join(json.dumps(p) for p in payloads) + "\n")
    (tmp_path / "b.json").write_text(json.dumps(payloads, indent=2))
    for name in ("a.ndjson", "b.json"):
        with triage.open(tmp_path / f"{name}.duckdb") as db:
            res = db.ingest([tmp_path / name]).files[0]
            assert res.kind == "raw" and res.added == 4
            _check(_events(db), captured)
