"""The live hook never raises, reads a bounded prefix of each field, and on any failure sends the
event exactly as it came: a classifier must never cost the app its error reports."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

import triage.sentry as ts

SEED = "composio unavailable: no backend session token. Sign in first (auth_store_session)."


class CaptureTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)

    def events(self) -> list[dict]:
        return [e.get_event() for e in self.envelopes if e.get_event() is not None]


@pytest.fixture
def sdk() -> Iterator[callable]:
    def init(**kw) -> CaptureTransport:
        t = CaptureTransport()
        sentry_sdk.init(dsn=None, transport=t, default_integrations=False, **kw)
        return t

    yield init
    sentry_sdk.get_client().close()
    sentry_sdk.init(dsn=None, default_integrations=False)


def test_only_a_bounded_prefix_of_a_huge_message_is_read(sdk):
    pad = "x" * (5 * ts.MAX_FIELD_CHARS)
    t = sdk(before_send=ts.before_send("openhuman"))
    sentry_sdk.capture_message(SEED + pad, level="error")  # the match is inside the prefix
    sentry_sdk.capture_message(pad + SEED, level="error")  # past it: not read
    sentry_sdk.flush()
    inside, past = t.events()
    assert inside["level"] == "info" and inside["tags"]["triage.rule"] == "session-expired-text"
    assert past["level"] == "error" and "triage.rule" not in past.get("tags", {})
    assert len(past["message"]) == len(pad + SEED)  # the event itself is sent whole


def test_integration_reads_the_same_bounded_prefix(sdk):
    pad = "x" * (2 * ts.MAX_FIELD_CHARS)
    t = sdk(integrations=[ts.TriageIntegration("openhuman")])
    sentry_sdk.capture_message(pad + SEED, level="error")
    sentry_sdk.flush()
    (ev,) = t.events()
    assert ev["level"] == "error" and "triage.kind" not in ev.get("tags", {})


def test_every_text_field_is_bounded():
    big = "y" * (3 * ts.MAX_FIELD_CHARS)
    ev = {
        "message": big,
        "exception": {"values": [{"type": big, "value": big}]},
        "logger": big,
        "transaction": big,
        "release": big,
        "environment": big,
        "tags": {"method": big},
    }
    fields = ts.event_fields(ev)
    assert fields and all(len(v) <= ts.MAX_FIELD_CHARS for v in fields.values())


class FrozenList(list):
    """A tags list that refuses changes, as a frozen or proxied structure would."""

    def extend(self, items):
        raise TypeError("frozen")

    append = extend


def test_tags_the_app_cannot_change_are_copied_never_half_applied():
    """On main the level was set, then extending the frozen list failed: an event sent at info
    with no triage tags to say why."""
    hook = ts.before_send("openhuman")
    frozen = FrozenList([["method", "x"]])
    ev = {"message": SEED, "level": "error", "tags": frozen}
    out = hook(ev, None)
    assert out is ev and ev["level"] == "info"
    assert ["triage.rule", "session-expired-text"] in ev["tags"] and ["method", "x"] in ev["tags"]
    assert list(frozen) == [["method", "x"]]  # the app's own object is left alone


@pytest.mark.parametrize("tags", [(("method", "x"),), "method:x"])
def test_tags_of_another_type_are_kept_and_the_event_goes_out_unchanged(tags):
    """On main such tags were replaced by {} and lost."""
    hook = ts.before_send("openhuman")
    ev = {"message": SEED, "level": "error", "tags": tags, "extra": {"k": [1, 2]}}
    before = copy.deepcopy(ev)
    assert hook(ev, None) is ev and ev == before


class RefusesLevel(dict):
    def __setitem__(self, key, value):
        if key == "level":
            raise TypeError("level is read-only here")
        super().__setitem__(key, value)


def test_a_failure_while_setting_puts_the_event_back_as_it_came(caplog):
    hook = ts.before_send("openhuman")
    ev = RefusesLevel(message=SEED, level="error", tags={"method": "x"})
    before = copy.deepcopy(dict(ev))
    with caplog.at_level(logging.ERROR, logger="triage.sentry"):
        assert hook(ev, None) is ev
    assert dict(ev) == before and "sending it unchanged" in caplog.text


class Explodes:
    def __str__(self) -> str:
        raise RuntimeError("str exploded")

    __repr__ = __str__


def _nested(depth: int) -> dict:
    d: dict = {}
    for _ in range(depth):
        d = {"a": d}
    return d


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "a string",
        {"message": Explodes()},
        {"message": {"formatted": Explodes()}},
        {"logentry": {"message": "%s %s", "params": [Explodes(), _nested(5000)]}},
        {"message": _nested(100_000)},
        {"exception": {"values": [{"type": Explodes(), "value": _nested(5000)}]}},
        {"tags": {Explodes(): "x"}, "message": SEED},
        {"level": Explodes(), "message": SEED},
    ],
    ids=lambda e: type(e).__name__,
)
def test_hostile_events_never_raise_and_pass_unchanged(event, caplog):
    hook = ts.before_send("openhuman")
    with caplog.at_level(logging.ERROR, logger="triage.sentry"):
        out = hook(event, None)
    assert out is event


def test_a_failing_then_hook_is_the_apps_own_and_still_runs():
    seen = []
    hook = ts.before_send("openhuman", then=lambda ev, hint: seen.append(ev["level"]) or ev)
    ev = {"message": SEED, "level": "error"}
    assert hook(ev, None) is ev and seen == ["info"]
