"""What every ingest path shares: the raw columns it reads, and the per-file accounting.

Kept apart from the ingester so the per-shape readers (:mod:`triage.ingest.formats`) and the
ingester can both use them without importing each other.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import duckdb

    from triage.ingest.inputs import Bounds

# The event keys the normalizer reads (raw SDK, JSON link, web API). All are read as JSON so that
# any type is accepted.
RAW_COLUMNS = [
    "event_id",
    "timestamp",
    "datetime",
    "level",
    "platform",
    "logger",
    "message",
    "logentry",
    "exception",
    "transaction",
    "culprit",
    "user",
    "release",
    "environment",
    "project",
    "group_id",
    "tags",
    "fingerprint",
    "sentry.interfaces.Exception",
    "sentry.interfaces.Message",
    "sentry.interfaces.User",
    # what Sentry's grouping reads besides (queries/grouping.sql)
    "type",
    "stacktrace",
    "threads",
    "checksum",
    "csp",
    "expectct",
    "sentry.interfaces.Stacktrace",
    "sentry.interfaces.Csp",
    "_grouping",
    # web API events
    "eventID",
    "id",
    "groupID",
    "projectID",
    "dateCreated",
    "entries",
    "title",
    "shortId",
]
# The issue (group) keys the groups normalizer reads.
RAW_TEXT_LIMIT = 64 * 1024  # how much of a rejected record's text is kept


def max_record_bytes() -> int:
    """The largest record accepted (``$TRIAGE_MAX_RECORD_BYTES``, default 16 MiB)."""
    try:
        return int(os.environ.get("TRIAGE_MAX_RECORD_BYTES", 16 * 1024 * 1024))
    except ValueError:
        return 16 * 1024 * 1024


@dataclass
class Reject:
    line: int
    reason: str
    raw_text: str


@dataclass
class FileResult:
    """What one file contributed: records read = added + duplicates + rejects + skipped."""

    path: str
    shape: str
    kind: str = ""
    records: int = 0
    added: int = 0
    duplicates: int = 0
    rejects: int = 0
    skipped: int = 0
    merged: int = 0  # duplicates that taught a stored event something (a group id, tags...)
    groups: int = 0  # Sentry groups stored or updated from this file
    unit: str = "events"  # what `added` counts: events, or groups for issues lists
    already_ingested: bool = False
    skip_reason: str | None = None  # set when the whole file is not a Sentry export
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def accounted(self) -> bool:
        """Every record read is added, a duplicate, rejected or skipped."""
        return self.records == self.added + self.duplicates + self.rejects + self.skipped


def lit(text: str) -> str:
    """A SQL string literal (quotes doubled), for names read from a file's header."""
    return "'" + text.replace("'", "''") + "'"


def ident(text: str) -> str:
    """A quoted SQL identifier (double quotes doubled)."""
    return '"' + text.replace('"', '""') + '"'


class Loader(Protocol):
    """What a per-shape reader needs of the ingester: its connection, and the lenient loader
    that turns parsed records into staged rows (rejecting the bad ones)."""

    con: duckdb.DuckDBPyConnection
    bounds: Bounds  # how far a compressed file may inflate (triage.ingest.inputs)

    def load_objects(
        self,
        records: Iterable[tuple[int, dict | None, str | None, str]],
        label: str,
        columns: list[str],
        rejects: list[Reject],
    ) -> int: ...
