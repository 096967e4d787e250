"""A ClickHouse server (or chdb in process) as the store: for event volumes past one machine.

Connections go through ``clickhouse-connect`` (the official client; ``pip install
'sentry-triage[clickhouse]'``). ``chdb://memory`` or ``chdb:///path`` runs ClickHouse inside this
process (``pip install chdb``): what the tests use, and a way to try the engine without a server.

Two sources of events:
- ``triage``: the triage-owned ``triage_events`` table (``queries/clickhouse/schema.sql``), filled
  by ``triage ingest --engine clickhouse`` from the same normalizer DuckDB uses.
- ``sentry-clickhouse``: Sentry's own ``errors`` table (Snuba), read in place and never written
  (``queries/clickhouse/source_sentry_errors.sql`` documents each column's mapping).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from triage.common.chsql import literal, quote_ident
from triage.store import sqlfiles

SOURCES = ("triage", "sentry-clickhouse")
DEFAULT_SENTRY_TABLE = "errors_local"
EVENTS_TABLE = "triage_events"
REJECTS_TABLE = "triage_rejects"
# A compiled rule table is long SQL (its patterns, the case table): past the default 256 KiB.
# ClickHouse pays a fixed cost per block for each constant pattern a query holds (a searcher
# or regex per call): with 200 rules that is about 0.1 s a block. The rules run on the distinct
# inputs (a GROUP BY), whose output two-level aggregation would cut into 256 small blocks.
SESSION_SETTINGS = {
    "max_query_size": 16 * 1024 * 1024,
    "group_by_two_level_threshold": 0,
    "group_by_two_level_threshold_bytes": 0,
}


class ClickHouseError(Exception):
    """The ClickHouse store could not be reached or used (the message never holds credentials)."""


def redact(url: str) -> str:
    """``url`` without its password (and query string, which may carry one)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:***@{host}" if user else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass
class ClickHouse:
    """A client, and where events are read from: ``source`` and, for Sentry's store, its table."""

    client: Any
    url: str
    source: str = "triage"
    sentry_table: str = DEFAULT_SENTRY_TABLE

    @property
    def read_only(self) -> bool:
        return self.source == "sentry-clickhouse"

    def command(self, sql: str) -> Any:
        return self.client.command(sql)

    def rows(self, sql: str) -> list[tuple]:
        return self.client.query(sql).result_rows

    def df(self, sql: str):
        return self.client.query_df(sql)

    def version(self) -> str:
        return str(self.rows("SELECT version()")[0][0])

    def events_sql(self) -> str:
        """A subquery yielding the normalized event columns from the configured source."""
        if self.source == "sentry-clickhouse":
            return sentry_source_sql(quote_ident(self.sentry_table))
        return f"SELECT * FROM {EVENTS_TABLE}"

    def ensure_schema(self) -> None:
        """Create the triage-owned tables (never on Sentry's store)."""
        if self.read_only:
            raise ClickHouseError("--source sentry-clickhouse is read-only: nothing is written")
        for stmt in _statements(sqlfiles.load("clickhouse/schema.sql")):
            self.command(stmt)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ClickHouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _statements(script: str) -> list[str]:
    body = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def connect(
    url: str,
    *,
    source: str = "triage",
    sentry_table: str = DEFAULT_SENTRY_TABLE,
) -> ClickHouse:
    """Open ``url`` (``http(s)://user:pass@host:8123/db``, ``chdb://memory``, ``chdb:///path``)."""
    if source not in SOURCES:
        raise ClickHouseError(f"unknown source {source!r} (known: {', '.join(SOURCES)})")
    try:
        import clickhouse_connect
    except ImportError:
        raise ClickHouseError(
            "the ClickHouse engine needs clickhouse-connect: "
            "pip install 'sentry-triage[clickhouse]'"
        ) from None
    try:
        client = clickhouse_connect.get_client(dsn=url, settings=SESSION_SETTINGS)
    except ImportError as exc:  # chdb:// without chdb installed
        raise ClickHouseError(f"{redact(url)}: {exc}") from None
    except Exception as exc:
        text = str(exc).replace(url, redact(url))
        raise ClickHouseError(f"cannot connect to ClickHouse at {redact(url)}: {text}") from None
    return ClickHouse(client, redact(url), source, sentry_table)


# ---------------------------------------------------------------------------------------------
# The message template on ClickHouse: the regexes of triage_template (queries/macros.sql), read
# from that file so the two cannot drift apart.

_TEMPLATE_STEP = re.compile(r"^\s*'((?:[^']|'')*)', '(<[a-z]+>)', 'g'\)", re.M)


@cache
def template_steps() -> tuple[tuple[str, str], ...]:
    """``(pattern, replacement)`` pairs of triage_template, in the order it applies them."""
    macros = sqlfiles.load("macros.sql")
    body = macros[macros.index("MACRO triage_template") :]
    body = body[: body.index(";")]
    steps = tuple((m[1].replace("''", "'"), m[2]) for m in _TEMPLATE_STEP.finditer(body))
    if len(steps) != 7:
        raise RuntimeError(f"triage_template in macros.sql has {len(steps)} steps, expected 7")
    return steps


def template_sql(expr: str) -> str:
    """ClickHouse SQL masking ``expr`` as triage_template does in DuckDB."""
    out = expr
    for pattern, repl in template_steps():
        # No '.' in these patterns, so ClickHouse's dot_nl changes nothing; (?-s) all the same.
        out = f"replaceRegexpAll({out}, {literal('(?-s)' + pattern)}, {literal(repl)})"
    return out


_TEMPLATE_CALL = re.compile(r"\{template\((.*?)\)\}")


def sentry_source_sql(table: str) -> str:
    """Snuba's errors table read as normalized events (see source_sentry_errors.sql)."""
    sql = sqlfiles.load("clickhouse/source_sentry_errors.sql").replace("{table}", table)
    sql = _TEMPLATE_CALL.sub(lambda m: template_sql(m[1]), sql)
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


# ---------------------------------------------------------------------------------------------
# Writing: events normalized by DuckDB (the one normalizer) copied into triage_events.


@dataclass(frozen=True)
class CopyResult:
    """Events offered, added, and already present (same event id); rejects copied."""

    events: int
    added: int
    duplicates: int
    rejects: int


def _columns(ch: ClickHouse, table: str) -> list[str]:
    rows = ch.rows(
        "SELECT name FROM system.columns WHERE database = currentDatabase() "
        f"AND table = {literal(table)} AND default_kind = '' ORDER BY position"
    )
    return [r[0] for r in rows]


def copy_from_duckdb(ch: ClickHouse, con: Any, *, batch_rows: int = 100_000) -> CopyResult:
    """Copy the events and rejects of a DuckDB connection into the ClickHouse store.

    Arrow batches go to a staging table, then into ``triage_events`` except the event ids the
    table already holds (on the days the batch covers), so re-ingesting a file adds nothing.
    """
    import uuid

    import pyarrow as pa

    ch.ensure_schema()
    cur = con.cursor()  # its own result stream: the caller's connection may hold an open result
    stage = f"triage_stage_{uuid.uuid4().hex[:12]}"
    cols = _columns(ch, EVENTS_TABLE)
    select = ", ".join('"' + c.replace('"', '""') + '"' for c in cols)
    ch.command(f"CREATE TABLE {stage} AS {EVENTS_TABLE} ENGINE = Memory")
    try:
        for batch in cur.sql(f"SELECT {select} FROM events").to_arrow_reader(batch_rows):
            ch.client.insert_arrow(stage, pa.Table.from_batches([batch]))
        offered = int(ch.rows(f"SELECT count() FROM {stage}")[0][0])
        before = int(ch.rows(f"SELECT count() FROM {EVENTS_TABLE}")[0][0])
        names = ", ".join(quote_ident(c) for c in cols)
        day = "toDate(ifNull(ts, toDateTime64(0, 6, 'UTC')))"
        ch.command(
            f"INSERT INTO {EVENTS_TABLE} ({names}) SELECT {names} FROM {stage} "
            f"WHERE event_id NOT IN (SELECT event_id FROM {EVENTS_TABLE} "
            f"WHERE {day} IN (SELECT DISTINCT {day} FROM {stage}))"
        )
        added = int(ch.rows(f"SELECT count() FROM {EVENTS_TABLE}")[0][0]) - before
    finally:
        ch.command(f"DROP TABLE IF EXISTS {stage}")
    rcols = _columns(ch, REJECTS_TABLE)
    rnames = ", ".join(quote_ident(c) for c in rcols)
    rselect = ", ".join('"' + c.replace('"', '""') + '"' for c in rcols)
    ch.command(f"CREATE TABLE {stage} AS {REJECTS_TABLE} ENGINE = Memory")
    try:
        for batch in cur.sql(f"SELECT {rselect} FROM rejects").to_arrow_reader(batch_rows):
            ch.client.insert_arrow(stage, pa.Table.from_batches([batch]))
        before = int(ch.rows(f"SELECT count() FROM {REJECTS_TABLE}")[0][0])
        # A file ingested again rejects the same lines again: keep one row per file and line.
        key = "(ifNull(source_file, ''), ifNull(source_line, -1))"
        ch.command(
            f"INSERT INTO {REJECTS_TABLE} ({rnames}) SELECT {rnames} FROM {stage} "
            f"WHERE {key} NOT IN (SELECT {key} FROM {REJECTS_TABLE})"
        )
        n_rejects = int(ch.rows(f"SELECT count() FROM {REJECTS_TABLE}")[0][0]) - before
    finally:
        ch.command(f"DROP TABLE IF EXISTS {stage}")
    cur.close()
    return CopyResult(offered, added, offered - added, n_rejects)
