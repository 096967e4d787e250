"""A local stand-in for Sentry's web API, served by pytest-httpserver on 127.0.0.1.

It answers the two endpoints `triage pull` uses with pages shaped like Sentry's (see §2-3 of
../shared/context/sentry-formats.md): camelCase events with ``entries[]``, ``tags`` as
``{key, value}``, ``groupID``/``eventID``/``dateCreated``; issues with ``shortId`` and ``count``
as a string; a ``Link`` header with both cursors, ``results="true"`` on ``next`` while more
remain. It filters like Sentry does on ``start``/``end`` and ``lastSeen:>=``, and can be told to
fail the next requests to a path (429 with Retry-After, 502, a body cut short, 401).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from werkzeug import Request, Response

T0 = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)


def api_event(
    event_id: str,
    group_id: str,
    when: datetime,
    *,
    message: str = "composio unavailable: no backend session token. Sign in first.",
    exc_type: str | None = None,
    user_id: str = "u-1",
    project_id: str = "4509062593708032",
    level: str = "error",
) -> dict:
    """One event as ``/issues/{id}/events/?full=true`` returns it."""
    entries: list[dict] = []
    if exc_type:
        entries.append(
            {
                "type": "exception",
                "data": {
                    "values": [
                        {
                            "type": exc_type,
                            "value": message,
                            "module": None,
                            "mechanism": {"type": "generic", "handled": True},
                            "threadId": None,
                            "stacktrace": {
                                "frames": [
                                    {
                                        "filename": "app/poll.ts",
                                        "absPath": "app:///app/poll.ts",
                                        "function": "listConnections",
                                        "lineNo": 42,
                                        "colNo": 7,
                                        "inApp": True,
                                        "context": [[42, "  await rpc(method)"]],
                                    }
                                ],
                                "framesOmitted": None,
                                "registers": None,
                                "hasSystemFrames": False,
                            },
                            "rawStacktrace": None,
                        }
                    ],
                    "excOmitted": None,
                    "hasSystemFrames": False,
                },
            }
        )
    else:
        entries.append(
            {"type": "message", "data": {"formatted": message, "message": None, "params": None}}
        )
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "id": event_id,
        "groupID": group_id,
        "eventID": event_id,
        "projectID": project_id,
        "size": 2048,
        "entries": entries,
        "dist": None,
        "message": "",
        "title": f"{exc_type}: {message}" if exc_type else message,
        "location": "app/poll.ts",
        "user": {"id": user_id, "email": None, "username": None, "ip_address": None, "name": None},
        "contexts": {},
        "sdk": {"name": "sentry.javascript.browser", "version": "7.100.1"},
        "context": {},
        "packages": {},
        "type": "error",
        "metadata": {"title": message},
        "tags": [
            {"key": "environment", "value": "production"},
            {"key": "level", "value": level},
            {"key": "method", "value": "openhuman.composio_list_connections"},
        ],
        "platform": "javascript",
        "dateReceived": stamp,
        "errors": [],
        "crashFile": None,
        "culprit": "app/poll.ts",
        "dateCreated": stamp,
        "fingerprints": ["d41d8cd98f00b204e9800998ecf8427e"],
        "groupingConfig": {"id": "newstyle:2023-01-11", "enhancements": "x"},
    }


def api_issue(group_id: str, short_id: str, title: str, events: list[dict]) -> dict:
    """One issue as ``/projects/{org}/{project}/issues/`` returns it (count is a string)."""
    dates = sorted(e["dateCreated"] for e in events)
    return {
        "id": group_id,
        "shareId": None,
        "shortId": short_id,
        "title": title,
        "culprit": "app/poll.ts",
        "permalink": f"https://acme.sentry.io/issues/{group_id}/",
        "logger": None,
        "level": "error",
        "status": "unresolved",
        "statusDetails": {},
        "substatus": "ongoing",
        "isPublic": False,
        "platform": "javascript",
        "priority": "medium",
        "project": {"id": "4509062593708032", "name": "tauri", "slug": "tauri"},
        "type": "error",
        "metadata": {"title": title},
        "numComments": 0,
        "assignedTo": None,
        "isBookmarked": False,
        "isSubscribed": False,
        "hasSeen": False,
        "annotations": [],
        "isUnhandled": False,
        "count": str(len(events)),
        "userCount": len({e["user"]["id"] for e in events}),
        "firstSeen": dates[0] if dates else None,
        "lastSeen": dates[-1] if dates else None,
        "stats": {"24h": []},
    }


def polling_events(
    group_id: str, n: int, start: datetime, period_s: float = 5.0, *, user_id: str = "u-1", **kw
) -> list[dict]:
    """``n`` events of one user, one every ``period_s`` seconds: a polling loop."""
    return [
        api_event(
            f"{int(group_id):08x}{i:024x}",
            group_id,
            start + timedelta(seconds=period_s * i),
            user_id=user_id,
            **kw,
        )
        for i in range(n)
    ]


def _parse_when(value: str) -> datetime:
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass
class Fault:
    status: int
    headers: dict = field(default_factory=dict)
    body: str = ""
    cut_short: bool = False  # send a Content-Length, then drop the connection mid-body


@dataclass
class FakeSentry:
    """Issues and their events, served with Sentry's paging; faults injected per path prefix."""

    httpserver: object
    org: str = "acme"
    project: str = "tauri"
    page_size: int = 2
    issues: dict[str, dict] = field(default_factory=dict)
    events: dict[str, list[dict]] = field(default_factory=dict)
    faults: list[tuple[str, Fault]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.httpserver.expect_request(re.compile(r"^/api/0/.*")).respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        return self.httpserver.url_for("/").rstrip("/")

    def add_issue(self, group_id: str, short_id: str, title: str, events: list[dict]) -> None:
        self.events.setdefault(group_id, []).extend(events)
        self.issues[group_id] = api_issue(group_id, short_id, title, self.events[group_id])

    def fail_next(self, path_prefix: str, fault: Fault) -> None:
        self.faults.append((path_prefix, fault))

    def requests(self) -> list[tuple[str, dict[str, list[str]]]]:
        """(path, query) of every request served so far, in order."""
        return [(r.path, parse_qs(r.query_string.decode())) for r, _ in self.httpserver.log]

    # -- the handler ------------------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        for i, (prefix, fault) in enumerate(self.faults):
            if request.path.startswith(prefix):
                del self.faults[i]
                return self._fault(fault)
        if request.headers.get("Authorization") != "Bearer test-token-123":
            body = json.dumps({"detail": "Invalid token"})
            return Response(body, 401, mimetype="application/json")
        args = request.args
        m = re.fullmatch(rf"/api/0/projects/{self.org}/{self.project}/issues/", request.path)
        if m:
            rows = list(self.issues.values())
            since = re.search(r"lastSeen:>=(\S+)", args.get("query", ""))
            if since:
                floor = _parse_when(since[1])
                rows = [r for r in rows if r["lastSeen"] and _parse_when(r["lastSeen"]) >= floor]
            return self._page(request, rows)
        m = re.fullmatch(rf"/api/0/organizations/{self.org}/issues/(\w+)/events/", request.path)
        if m and m[1] in self.events:
            rows = sorted(self.events[m[1]], key=lambda e: e["dateCreated"], reverse=True)
            if "start" in args:
                lo, hi = _parse_when(args["start"]), _parse_when(args["end"])
                rows = [r for r in rows if lo <= _parse_when(r["dateCreated"]) <= hi]
            return self._page(request, rows)
        return Response(json.dumps({"detail": "The requested resource does not exist"}), 404)

    def _page(self, request: Request, rows: list[dict]) -> Response:
        offset = int((request.args.get("cursor") or "0:0:0").split(":")[1])
        chunk = rows[offset : offset + self.page_size]
        more = offset + self.page_size < len(rows)
        base = request.base_url
        keep = "&".join(f"{k}={v}" for k, v in request.args.items(multi=True) if k != "cursor")
        prev_c, next_c = f"0:{max(offset - self.page_size, 0)}:1", f"0:{offset + self.page_size}:0"
        link = (
            f'<{base}?{keep}&cursor={prev_c}>; rel="previous"; '
            f'results="{"true" if offset else "false"}"; cursor="{prev_c}", '
            f'<{base}?{keep}&cursor={next_c}>; rel="next"; '
            f'results="{"true" if more else "false"}"; cursor="{next_c}"'
        )
        return Response(json.dumps(chunk), 200, {"Link": link}, mimetype="application/json")

    def _fault(self, fault: Fault) -> Response:
        if fault.cut_short:
            body = json.dumps([{"id": "x" * 40}] * 50).encode()

            def cut() -> Iterator[bytes]:
                yield body[: len(body) // 3]
                raise ConnectionAbortedError("fake Sentry drops the connection mid-body")

            return Response(
                cut(),
                200,
                {"Content-Length": str(len(body)), "Content-Type": "application/json"},
            )
        return Response(fault.body, fault.status, fault.headers, mimetype="application/json")
