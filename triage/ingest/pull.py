"""Pull a project's issues and their events from Sentry's web API into the database.

Each page fetched goes through the same ingest path as a file (shape detection, dedupe on event
id, rejects with their source, one transaction and one ``ingest_log`` row per page), named by its
URL. The database is opened for each page only while the page is written, so a notebook can read
between the writes (see :func:`triage.open`). Each pull is recorded in ``pull_log``; ``--since
last`` starts where the newest event of the last complete pull of the same URL, organization and
project left off, and the events already stored are skipped by their ids.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from triage.ingest.records import FileResult
from triage.ingest.sentry_api import Page, SentryClient

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger("triage.ingest.pull")

SCHEMA = "triage.pull/1"
DEFAULT_SINCE = "24h"
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

_PULL_LOG = """
CREATE TABLE IF NOT EXISTS pull_log (
    url           VARCHAR,
    org           VARCHAR,
    project       VARCHAR,
    query         VARCHAR,
    since         TIMESTAMPTZ,
    until         TIMESTAMPTZ,
    issues        BIGINT,
    pages         BIGINT,
    events        BIGINT,
    added         BIGINT,
    duplicates    BIGINT,
    rejects       BIGINT,
    newest_event  TIMESTAMPTZ,
    status        VARCHAR,   -- ok | failed: only complete pulls move `--since last` forward
    error         VARCHAR,
    started_at    TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ DEFAULT current_timestamp
)
"""


class SinceError(ValueError):
    """``--since`` is not a duration, a timestamp or ``last``."""


def parse_since(value: str, now: datetime) -> datetime | None:
    """``24h``/``30m``/``7d``/``2w`` before ``now``, or an ISO 8601 time (no zone = UTC).

    Returns None for ``last``, which needs the database (:func:`resolve_last`).
    """
    text = (value or "").strip()
    if text == "last":
        return None
    m = re.fullmatch(r"(\d+)\s*([smhdw])", text)
    if m:
        try:
            return now - timedelta(**{_UNITS[m[2]]: int(m[1])})
        except OverflowError:
            raise SinceError(f"--since {value!r} reaches back before the year 1") from None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SinceError(
            f"--since {value!r}: expected a duration (24h, 30m, 7d, 2w), an ISO 8601 time "
            "(2026-11-28 or 2026-11-28T06:00:00Z) or `last`"
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when > now:
        raise SinceError(f"--since {value!r} is in the future")
    return when


def resolve_last(
    con: duckdb.DuckDBPyConnection, url: str, org: str, project: str
) -> datetime | None:
    """The newest event of the complete pulls of this target (else their end), or None."""
    con.execute(_PULL_LOG)
    newest, until = con.execute(
        "SELECT max(newest_event), max(until) FROM pull_log "
        "WHERE url = ? AND org = ? AND project = ? AND status = 'ok'",
        [url, org, project],
    ).fetchone()
    return newest or until


@dataclass
class PullResult:
    """What one pull fetched and stored; ``to_dict`` is the ``triage.pull/1`` JSON."""

    url: str
    org: str
    project: str
    query: str
    since: datetime | None
    since_from: str
    until: datetime
    issues: int = 0
    pages: int = 0
    requests: int = 0
    events: int = 0
    added: int = 0
    duplicates: int = 0
    rejects: int = 0
    newest_event: datetime | None = None
    reject_lines: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("reject_lines")
        for k in ("since", "until", "newest_event"):
            d[k] = d[k].isoformat() if d[k] else None
        return {"schema": SCHEMA, **d, "reject_examples": self.reject_lines[:20]}


# how pull() gets the database for one page: held only while that page is written
Opener = Callable[[], "contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]"]


def _event_time(record: dict) -> datetime | None:
    value = record.get("dateCreated") if isinstance(record, dict) else None
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def pull(
    writer: Opener,
    client: SentryClient,
    org: str,
    project: str,
    *,
    since: str = DEFAULT_SINCE,
    query: str = "",
    keep_raw: bool = False,
    now: datetime | None = None,
    on_page: Callable[[str, Page, FileResult], None] | None = None,
) -> PullResult:
    """Fetch the issues of ``org/project`` seen since ``since`` and their events in the window.

    ``writer()`` opens the database for one write (and closes it after), so the lock is held
    only while a page is stored. A failure after some pages keeps what was stored (each page is
    whole), records the pull as failed, and re-raises.
    """
    until = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    start = parse_since(since, until)
    since_from = since
    if start is None:
        with writer() as con:
            start = resolve_last(con, client.base_url, org, project)
        if start is None:
            start = parse_since(DEFAULT_SINCE, until)
            since_from = f"last (no earlier complete pull of {org}/{project}: {DEFAULT_SINCE})"
            log.warning(
                "--since last: no earlier complete pull of %s/%s from %s in this database; "
                "pulling the last %s",
                org,
                project,
                client.base_url,
                DEFAULT_SINCE,
            )
        else:
            since_from = f"last ({start.isoformat()})"
    result = PullResult(client.base_url, org, project, query, start, since_from, until)
    started = datetime.now(UTC)

    def store(kind: str, page: Page) -> FileResult:
        with writer() as con:
            from triage.ingest.ingester import Ingester

            fr = Ingester(con, keep_raw=keep_raw).ingest_records(page.records, source=page.url)
        result.pages += 1
        result.requests = client.requests
        if kind == "events":
            result.events += len(page.records)
            result.added += fr.added
            result.duplicates += fr.duplicates
            times = [t for t in map(_event_time, page.records) if t is not None]
            if times and (result.newest_event is None or max(times) > result.newest_event):
                result.newest_event = max(times)
        result.rejects += fr.rejects
        result.reject_lines += fr.errors
        if on_page:
            on_page(kind, page, fr)
        return fr

    try:
        issue_ids: list[str] = []
        for page in client.project_issues(org, project, query=query, since=start):
            store("issues", page)
            for issue in page.records:
                if isinstance(issue, dict) and issue.get("id") is not None:
                    issue_ids.append(str(issue["id"]))
        result.issues = len(issue_ids)
        for issue_id in dict.fromkeys(issue_ids):
            for page in client.issue_events(org, issue_id, start=start, end=until):
                store("events", page)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            _record(
                writer, result, started, "failed", client.redact(f"{type(exc).__name__}: {exc}")
            )
        raise
    _record(writer, result, started, "ok", None)
    return result


def _record(
    writer: Opener, r: PullResult, started: datetime, status: str, error: str | None
) -> None:
    with writer() as con:
        con.execute(_PULL_LOG)
        con.execute(
            "INSERT INTO pull_log (url, org, project, query, since, until, issues, pages, events, "
            "added, duplicates, rejects, newest_event, status, error, started_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                r.url,
                r.org,
                r.project,
                r.query,
                r.since,
                r.until,
                r.issues,
                r.pages,
                r.events,
                r.added,
                r.duplicates,
                r.rejects,
                r.newest_event,
                status,
                error,
                started,
            ],
        )


def store_writer(
    path: str, *, wait: float = 0.0
) -> Callable[[], Iterator[duckdb.DuckDBPyConnection]]:
    """An opener for :func:`pull` that connects to ``path`` for each write, waiting for locks."""
    from triage import store

    @contextlib.contextmanager
    def opener() -> Iterator[duckdb.DuckDBPyConnection]:
        con = store.connect(path, wait=wait)
        try:
            yield con
        finally:
            con.close()

    return opener
