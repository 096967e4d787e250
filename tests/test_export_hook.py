"""The live hook: a real sentry-sdk client, a capturing transport, the openhuman table."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.transport import Transport

import triage
import triage.sentry as ts
from triage.rules import parse
from triage.targets.python import compile_table

SEED = "composio unavailable: no backend session token. Sign in first (auth_store_session)."


class CaptureTransport(Transport):
    """Keeps every envelope the SDK would have sent."""

    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)

    def events(self) -> list[dict]:
        return [e.get_event() for e in self.envelopes if e.get_event() is not None]


@pytest.fixture
def sdk() -> Iterator[callable]:
    """``sdk(**init_kwargs)`` initialises a real client with a capturing transport."""
    transports: list[CaptureTransport] = []

    def init(**kw) -> CaptureTransport:
        t = CaptureTransport()
        transports.append(t)
        kw.setdefault("default_integrations", False)
        sentry_sdk.init(dsn=None, transport=t, release="app@1.0", environment="test", **kw)
        return t

    yield init
    sentry_sdk.get_client().close()
    sentry_sdk.init(dsn=None, default_integrations=False)


def _raise(exc: Exception) -> None:
    try:
        raise exc
    except Exception:
        sentry_sdk.capture_exception()


def test_seed_error_goes_out_as_info_with_triage_tags_and_a_real_bug_unchanged(sdk):
    t = sdk(before_send=triage.sentry.before_send(rules="openhuman"))
    _raise(RuntimeError(SEED))
    _raise(TypeError("Cannot read properties of undefined (reading 'id')"))
    sentry_sdk.flush()
    seed, bug = t.events()
    assert seed["exception"]["values"][-1]["value"] == SEED
    assert seed["level"] == "info"
    assert seed["tags"]["triage.kind"] == "auth_expired"
    assert seed["tags"]["triage.rule"] == "session-expired-text"
    assert bug["level"] == "error"
    assert "triage.kind" not in bug.get("tags", {}) and "triage.rule" not in bug.get("tags", {})


def test_integration_does_the_same_and_leaves_before_send_to_the_app(sdk):
    seen = []
    t = sdk(
        integrations=[ts.TriageIntegration("openhuman")],
        before_send=lambda ev, hint: seen.append(ev["level"]) or ev,
    )
    sentry_sdk.capture_message("upstream said 429 Too Many Requests", level="error")
    sentry_sdk.capture_message("a real failure", level="error")
    sentry_sdk.flush()
    limited, real = t.events()
    assert (limited["level"], limited["tags"]["triage.kind"]) == ("warning", "rate_limited")
    assert real["level"] == "error" and "triage.kind" not in real.get("tags", {})
    assert seen == ["warning", "error"]  # the app's before_send sees the classified event


def test_drop_rule_drops_and_tags_rules_read_the_scope(sdk):
    table = parse(
        """
[[rules]]
id = "noise"
kind = "browser_noise"
level = "drop"
field = "message"
prefix = "ResizeObserver loop"

[[rules]]
id = "poll"
kind = "polling"
level = "debug"
field = "tags.method"
equals = "openhuman.composio_list_connections"
""",
        name="t",
    )
    t = sdk(before_send=ts.before_send(table))
    sentry_sdk.capture_message("ResizeObserver loop limit exceeded")
    sentry_sdk.set_tag("method", "openhuman.composio_list_connections")
    sentry_sdk.capture_message("anything at all")
    sentry_sdk.flush()
    (ev,) = t.events()
    assert ev["level"] == "debug" and ev["tags"]["triage.rule"] == "poll"
    assert ev["tags"]["method"] == "openhuman.composio_list_connections"


def test_logging_records_are_classified_by_their_formatted_message(sdk):
    t = sdk(
        integrations=[LoggingIntegration(event_level=logging.ERROR)],
        before_send=ts.before_send("openhuman"),
    )
    logging.getLogger("core.rpc").error("Core RPC %s timed out after %dms", "team_list", 30000)
    sentry_sdk.flush()
    (ev,) = t.events()
    assert ev["logentry"]["formatted"] == "Core RPC team_list timed out after 30000ms"
    assert (ev["level"], ev["tags"]["triage.kind"]) == ("warning", "timeout")


def test_chained_before_send_runs_after_and_can_still_drop(sdk):
    t = sdk(before_send=ts.before_send("openhuman", then=lambda ev, hint: None))
    sentry_sdk.capture_message(SEED)
    sentry_sdk.flush()
    assert t.events() == []


def test_a_failing_classifier_sends_the_event_unchanged(caplog):
    class Boom:
        def match_fields(self, fields):
            raise RuntimeError("boom")

    hook = ts._safe(Boom())  # type: ignore[arg-type]
    ev = {"message": SEED, "level": "error"}
    assert hook(ev, None) is ev and ev["level"] == "error"
    assert "classifying an event failed" in caplog.text


def test_event_fields_follow_the_normalizer():
    ev = {
        "logentry": {"message": "user %s failed %d times", "params": ["bob", 3]},
        "exception": {"values": [{"type": "ValueError", "value": "inner"}, {"type": "KeyError"}]},
        "tags": [["method", "m"], ["method", "second"], ["n", 5]],
        "level": "WARN ",
        "culprit": "app.views",
        "release": 7,
    }
    f = ts.event_fields(ev)
    assert f["message"] == "user bob failed 3 times"
    assert (f["exception.type"], f["exception.value"]) == ("KeyError", "")
    assert (f["tags.method"], f["tags.n"]) == ("m", "5")
    assert (f["level"], f["transaction"], f["release"]) == ("warning", "app.views", "7")
    assert ts.event_fields({})["level"] == "error"
    assert ts.event_fields({"exception": [{"type": "E", "value": "v"}]})["message"] == "v"


def test_classify_event_and_matcher_reuse():
    m = compile_table(triage.load_rules("openhuman"))
    assert ts.classify_event({"message": "NO BACKEND SESSION TOKEN"}, m).kind == "auth_expired"
    assert ts.classify_event({"message": "session_expired lowercase"}, "openhuman") is None
