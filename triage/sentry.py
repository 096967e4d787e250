"""Classify events live, inside a Python app, with the same rule table the reports use.

    import sentry_sdk, triage.sentry
    sentry_sdk.init(dsn=..., before_send=triage.sentry.before_send(rules="openhuman"))
    # or: sentry_sdk.init(dsn=..., integrations=[triage.sentry.TriageIntegration("openhuman")])

On a match the event's level becomes the rule's level and it gains the tags ``triage.kind`` and
``triage.rule``; a rule whose level is ``drop`` drops the event. Events no rule matches go out
unchanged. The fields are read from the event dict the way the ingester normalizes a stored event
(``queries/normalize_raw.sql``), so a rule decides the same live as in ``triage report``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from contextlib import suppress
from itertools import islice
from pathlib import Path
from typing import Any

from triage.rules import Rule, RuleTable, load
from triage.rules.casefold import lower
from triage.targets.python import Matcher, compile_table

log = logging.getLogger("triage.sentry")

Event = dict[str, Any]
# Bounded work per event: each field is classified on its first MAX_FIELD_CHARS characters, and
# only the first MAX_TAGS tags are read. Why: the classifier's cost grows with the text (a 50 MB
# message took 1.1 s and several copies of it in memory); Sentry itself keeps at most 8,192
# characters of a message, so the events `triage report` reads were never longer than this.
# A rule that needs text past the prefix (a `suffix` of a huge message) does not match live.
MAX_FIELD_CHARS = 16_384
MAX_TAGS = 1_000
_PLACEHOLDER = re.compile(r"%[sdrif]")


def _str(v: Any) -> str | None:
    """A JSON value as text, as the ingester's ``triage_str`` reads it."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    try:
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return str(v)


def _nonempty(v: Any) -> str | None:
    s = _str(v)
    return s if s else None


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def _format(msg: str | None, params: Any) -> str | None:
    """printf-style ``%s`` substitution, exactly as the ingester's ``triage_format``."""
    if msg is None:
        return None
    has_placeholder = _PLACEHOLDER.search(msg) is not None
    if isinstance(params, list):
        if not params or not has_placeholder:
            return msg
    elif params is not None or not has_placeholder:
        return msg
    parts = _PLACEHOLDER.split(msg)
    out = []
    for i, part in enumerate(parts):
        out.append(part)
        if i < len(parts) - 1:
            p = params[i] if isinstance(params, list) and i < len(params) else None
            out.append(_str(p) or "")
    return "".join(out)


def _message(event: Mapping[str, Any]) -> str | None:
    raw_msg = event.get("message")
    le = event.get("logentry")
    if le is None:
        le = event.get("sentry.interfaces.Message")
    if le is None and isinstance(raw_msg, dict):
        le = raw_msg
    plain = None if isinstance(raw_msg, dict | bool) else _str(raw_msg)
    formatted = _str(_get(le, "formatted"))
    if formatted is None:
        formatted = _format(_str(_get(le, "message")), _get(le, "params"))
    if formatted is None:
        formatted = plain
    return formatted or None


def _exception(event: Mapping[str, Any]) -> tuple[str | None, str | None]:
    j = event.get("exception")
    if j is None:
        j = event.get("sentry.interfaces.Exception")
    if isinstance(j, list):
        chain = j
    elif isinstance(j, dict):
        if "values" in j:
            chain = j["values"] if isinstance(j["values"], list) else []
        else:
            chain = [j]
    else:
        chain = []
    chain = [x for x in chain if isinstance(x, dict)]
    if not chain:
        return None, None
    last = chain[-1]
    return _str(last.get("type")), _str(last.get("value"))


def _tags(event: Mapping[str, Any]) -> dict[str, str | None]:
    t = event.get("tags")
    out: dict[str, str | None] = {}
    if isinstance(t, dict):
        pairs = [(str(k), v) for k, v in islice(t.items(), MAX_TAGS)]
    elif isinstance(t, list) and t:
        t = t[:MAX_TAGS]
        if isinstance(t[0], dict):
            pairs = [(_str(x.get("key")), x.get("value")) for x in t if isinstance(x, dict)]
        else:
            pairs = [
                (_str(p[0]) if len(p) > 0 else None, p[1] if len(p) > 1 else None)
                for p in t
                if isinstance(p, list | tuple)
            ]
    else:
        return out
    for k, v in pairs:
        if k is not None and k not in out:
            out[k] = _str(v)
    return out


_LEVEL_ALIASES = {
    "critical": "fatal",
    "log": "info",
    "warn": "warning",
    "10": "debug",
    "20": "info",
    "30": "warning",
    "40": "error",
    "50": "fatal",
    "": "error",
}


def _level(v: Any) -> str:
    s = _str(v)
    if s is None:
        return "error"
    s = lower(s.strip(" "))
    return _LEVEL_ALIASES.get(s, s)


def event_fields(
    event: Mapping[str, Any], only: tuple[str, ...] | list[str] | None = None
) -> dict[str, str]:
    """The rule fields of a raw event dict, read as the ingester and the SQL classifier read them.

    ``message`` is the formatted log message, else the raised (last) exception's value;
    ``transaction`` falls back to ``culprit``; tags become ``tags.NAME``. Missing reads as "".
    ``only`` limits the work to the fields a table reads (what the live hook asks for).
    """
    wanted = FIELDS_ALL if only is None else only
    out: dict[str, str] = {}
    exc: tuple[str | None, str | None] | None = None
    tags: dict[str, str | None] | None = None
    for f in wanted:
        if f in ("message", "exception.type", "exception.value"):
            if exc is None:
                exc = _exception(event)
            if f == "message":
                out[f] = _message(event) or exc[1] or ""
            else:
                out[f] = (exc[0] if f == "exception.type" else exc[1]) or ""
        elif f.startswith("tags."):
            if tags is None:
                tags = _tags(event)
            out[f] = tags.get(f[5:]) or ""
        else:
            out[f] = _READERS[f](event)
    if only is None:
        for k, v in (tags if tags is not None else _tags(event)).items():
            out["tags." + k] = v or ""
    return {k: v[:MAX_FIELD_CHARS] for k, v in out.items()}


_READERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "logger": lambda e: _nonempty(e.get("logger")) or "",
    "level": lambda e: _level(e.get("level")),
    "platform": lambda e: _str(e.get("platform")) or "",
    "transaction": lambda e: _nonempty(e.get("transaction")) or _nonempty(e.get("culprit")) or "",
    "release": lambda e: _nonempty(e.get("release")) or "",
    "environment": lambda e: _nonempty(e.get("environment")) or "",
    "project": lambda e: _str(e.get("project")) or "",
}
FIELDS_ALL = ("message", "exception.type", "exception.value", *_READERS)


def _compiled(rules: str | Path | RuleTable | Matcher) -> Matcher:
    if isinstance(rules, Matcher):
        return rules
    return compile_table(load(rules))


def classify_event(
    event: Mapping[str, Any], rules: str | Path | RuleTable | Matcher
) -> Rule | None:
    """The rule that takes ``event`` (a raw Sentry event dict), or None. Compiles ``rules`` first:
    for many events, compile once with ``triage.targets.python.compile_table`` and pass the
    Matcher."""
    m = _compiled(rules)
    return m.match_fields(event_fields(event, m.fields))


def apply(event: Event, matcher: Matcher) -> Event | None:
    """Re-level and tag ``event`` by the first matching rule; None when it says drop.

    All or nothing: the new tags are built aside (a copy of the event's dict or list, never the
    object the app passed in) and set with the level last; if setting either fails the event is
    put back as it was. Tags of another type (a string, a tuple) cannot be extended: such an
    event goes out unchanged.
    """
    if not isinstance(event, dict):
        return event
    rule = matcher.match_fields(event_fields(event, matcher.fields))
    if rule is None:
        return event
    if rule.level == "drop":
        return None
    tags = event.get("tags")
    ours = [("triage.kind", rule.kind), ("triage.rule", rule.id)]
    if tags is None:
        new_tags: Any = dict(ours)
    elif isinstance(tags, dict):
        new_tags = {**tags, **dict(ours)}
    elif isinstance(tags, list):
        new_tags = [*tags, *([k, v] for k, v in ours)]
    else:
        return event
    had = {k: event[k] for k in ("tags", "level") if k in event}
    try:
        event["tags"] = new_tags
        event["level"] = rule.level
    except Exception:
        for k in ("tags", "level"):
            if k in had:
                dict.__setitem__(event, k, had[k])
            else:
                dict.pop(event, k, None)
        raise
    return event


def _safe(matcher: Matcher) -> Callable[[Event, Any], Event | None]:
    def hook(event: Event, hint: Any = None) -> Event | None:
        try:
            return apply(event, matcher)
        except Exception:  # never lose an event because the classifier failed
            with suppress(Exception):  # nor because logging did
                log.exception("triage: classifying an event failed; sending it unchanged")
            return event

    return hook


def before_send(
    rules: str | Path | RuleTable | Matcher = "openhuman",
    then: Callable[[Event, Any], Event | None] | None = None,
) -> Callable[[Event, Any], Event | None]:
    """A ``before_send`` callback for ``sentry_sdk.init`` that classifies with ``rules``.

    The table (a built-in name, a path, or a RuleTable) is parsed and compiled here, once. ``then``
    chains an existing ``before_send`` after classification (it sees the re-levelled event).
    """
    hook = _safe(_compiled(rules))
    if then is None:
        return hook

    def chained(event: Event, hint: Any) -> Event | None:
        ev = hook(event, hint)
        return None if ev is None else then(ev, hint)

    return chained


try:
    from sentry_sdk.integrations import Integration
    from sentry_sdk.scope import add_global_event_processor
except ImportError:  # pragma: no cover - sentry-sdk is a dependency
    Integration = object  # type: ignore[assignment,misc]


class TriageIntegration(Integration):  # type: ignore[misc,valid-type]
    """``sentry_sdk.init(integrations=[TriageIntegration("openhuman")])``: the same as the
    ``before_send`` hook, as an event processor, leaving ``before_send`` free for the app."""

    identifier = "triage"

    def __init__(self, rules: str | Path | RuleTable | Matcher = "openhuman") -> None:
        self.hook = _safe(_compiled(rules))

    @staticmethod
    def setup_once() -> None:
        import sentry_sdk

        @add_global_event_processor
        def _process(event: Event, hint: Any) -> Event | None:
            integration = sentry_sdk.get_client().get_integration(TriageIntegration)
            if integration is None or event.get("type") == "transaction":
                return event
            return integration.hook(event, hint)
