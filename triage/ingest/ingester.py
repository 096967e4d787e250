"""Read Sentry exports into the ``events`` and ``groups`` tables, normalized, losing nothing.

Each file's shape is read from its content (:mod:`triage.shapes`). Event files are read by
DuckDB's own JSON reader (the fast path) and normalized by one SQL statement
(``queries/normalize_raw.sql``, which knows raw SDK events, the "JSON" link and web API events).
When DuckDB refuses a file (a malformed line, invalid UTF-8, a truncated gzip), the file is read
again record by record in Python so that every good record still lands and every bad one goes to
``rejects`` with its file, line and raw text.

All reading and normalizing happens *before* the file's transaction opens: a failing statement
inside a DuckDB transaction aborts it and would poison the rest of the batch. The transaction only
writes what is already staged (events, groups, rejects, the ``ingest_log`` row), so each file lands
whole or not at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import zstandard

from triage.common import pii
from triage.ingest import formats, grouping, inputs, recover, shapes, sniff, typed
from triage.ingest.inputs import Bounds, InputRefused, Skipped
from triage.ingest.records import (
    RAW_COLUMNS,
    RAW_TEXT_LIMIT,
    FileResult,
    Reject,
    ident,
    lit,
    max_record_bytes,
)
from triage.ingest.shapes import Shape
from triage.store import sqlfiles as sqlfiles

ISSUE_COLUMNS = [
    "id",
    "shortId",
    "title",
    "culprit",
    "level",
    "status",
    "count",
    "userCount",
    "firstSeen",
    "lastSeen",
    "metadata",
    "project",
    "platform",
    "permalink",
]
EVENT_COLUMNS = (
    "event_id, group_key, group_id, short_id, project, ts, level, platform, logger, message, "
    'exc_type, exc_value, exc_chain, "transaction", culprit, user_id, "release", environment, '
    "tags, fingerprint, template, source_file, source_line, "
    "group_hash, group_basis, group_source, grouping_version, title"
)
# Event types that are not errors or messages: counted as skipped in every shape.
SKIPPED_EVENT_TYPES = ("transaction",)
GROUP_COLUMNS = (
    "id, short_id, title, culprit, level, status, times_seen, user_count, first_seen, last_seen, "
    "project, platform, permalink, metadata, source_file"
)
STDIN = "-"
# Small files are ingested in batches: binding the normalizer costs about 0.1-0.25 s, more than
# reading a one-event file, so a folder of one-event files is read and normalized per batch.
BATCH_FILE_BYTES = 1 << 20  # files up to this size are batched
BATCH_FILES = 500  # files per batch (one statement, one transaction)


class _BatchRefused(Exception):
    """A batch of small files must go one by one (nothing was written)."""


@dataclass
class IngestResult:
    files: list[FileResult] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def rejects(self) -> int:
        return sum(f.rejects for f in self.files)

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    @property
    def skipped(self) -> int:
        return sum(f.skipped for f in self.files)

    @property
    def groups(self) -> int:
        return sum(f.groups for f in self.files)

    @property
    def already_ingested(self) -> int:
        return sum(f.already_ingested for f in self.files)

    @property
    def skipped_files(self) -> int:
        """Files not read: folder entries (FIFOs, dangling links, loops) and files that are
        not Sentry exports (binary), each with its reason."""
        return sum(f.shape == "skipped" or f.skip_reason is not None for f in self.files)


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path | Skipped]:
    """Files named, files under folders named (recursively, sorted, hidden files skipped), and
    files matching glob patterns (``exports/**/*.json.gz``). ``-`` is standard input. Folder
    entries that are not files to read (FIFOs, dangling symlinks, loops) come as ``Skipped``."""
    return inputs.iter_inputs(paths)


def _scan(path: Path) -> tuple[str, bool]:
    """The file's SHA-256 and whether it has blank lines, in one read."""
    found = inputs.scan(path, Bounds(ratio=0, max_bytes=0))
    return found.digest, found.blank_lines


def _columns_sql(columns: list[str], extra: dict[str, str] | None = None) -> str:
    cols = {c: "JSON" for c in columns}
    if extra:
        cols.update(extra)
    return "{" + ", ".join(f"{lit(k)}: {lit(v)}" for k, v in cols.items()) + "}"


def _columns_json(columns: list[str]) -> str:
    """``{"key": "JSON", ...}``: json_transform's structure for reading every key as JSON."""
    return json.dumps({c: "JSON" for c in columns}).replace("'", "''")


def _fields_json(columns: list[str]) -> str:
    """The fields read from a record, as one JSON value: hashed when an event has no id."""
    return "to_json(struct_pack(" + ", ".join(f"{ident(c)} := {ident(c)}" for c in columns) + "))"


class Ingester:
    """Ingests files into one open connection, one transaction per file."""

    # The typed fast path for the common event shapes (triage.ingest.typed); False reads every
    # file the lenient way (the tests compare both).
    typed = True

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        keep_raw: bool = False,
        keep_pii: bool = False,
        bounds: Bounds | None = None,
    ):
        self.con = con
        self.keep_raw = keep_raw
        self.keep_pii = keep_pii
        self.bounds = bounds or Bounds.from_env()
        # Read by queries/pii.sql's macros in every normalizer (lenient, typed, batch).
        con.execute(f"SET VARIABLE triage_keep_pii = {str(keep_pii).lower()}")
        # How ``raw_input``'s record text is read: its ``__raw`` column, or (JSON fast path) an
        # expression over the fields, evaluated only for the rows that need it.
        self._raw_sql = "__raw"
        self._blank_lines = False  # set by ingest_file's scan of the file

    # -- reading JSON records into raw_input ---------------------------------------------------

    def _load_json(self, path: Path, shape: Shape, label: str, columns: list[str]) -> list[Reject]:
        """Fill ``raw_input`` from a JSON file: DuckDB's reader, else record by record."""
        rejects: list[Reject] = []
        try:
            if shape.layout == "ndjson" and not shape.compression and self._blank_lines:
                raise duckdb.InvalidInputException("blank lines: read line by line")
            self._fast_path(path, shape, label, columns)
        except (duckdb.Error, UnicodeDecodeError):  # the message may quote a cut UTF-8 char
            self._slow_path(path, shape, label, columns, rejects)
        return rejects

    def _typed_path(self, path: Path, shape: Shape, label: str) -> bool:
        """Read and normalize an event file in one statement with typed columns, into
        ``staged`` (see triage.ingest.typed). False, with nothing staged, when the file is not
        for it: then the lenient path reads it."""
        if (
            not self.typed
            or not typed.in_step()
            or self.keep_raw
            or shape.kind not in shapes.EVENT_KINDS
            or shape.layout not in ("ndjson", "array", "object")
            or (shape.layout == "ndjson" and not shape.compression and self._blank_lines)
        ):
            return False
        fmt = {"ndjson": "newline_delimited", "array": "array"}.get(shape.layout, "unstructured")
        # Raw SDK events: tags as a MAP first; when the reader refuses that (tags as pairs, a
        # key twice), once more with tags as JSON; anything else, the lenient path.
        for tags_map in (True, False) if shape.kind == "raw" else (False,):
            cols = _columns_sql([], typed.columns(tags_map))
            read = (
                f"read_json(?, format='{fmt}', columns={cols}, "
                f"maximum_object_size={max_record_bytes()}, "
                f"compression='{shape.compression or 'none'}')"
            )
            source = (
                f"(SELECT *, ? AS __file, row_number() OVER () AS __line FROM {read}) raw_input"
            )
            sql = typed.normalize_sql(tags_map).replace("FROM raw_input", f"FROM {source}", 1)
            try:
                self.con.execute(
                    "CREATE OR REPLACE TEMP TABLE staged AS "
                    f"SELECT n.*, NULL::JSON AS raw FROM ({sql}) n",
                    [label, str(path)],
                )
                return True
            except (duckdb.Error, UnicodeDecodeError) as exc:
                self.con.execute("DROP TABLE IF EXISTS staged")
                if not (tags_map and typed.tags_misfit(str(exc))):
                    return False
        return False

    def _fast_path(self, path: Path, shape: Shape, label: str, columns: list[str]) -> None:
        fmt = {"ndjson": "newline_delimited", "array": "array"}.get(shape.layout, "unstructured")
        limit = max_record_bytes()
        comp = shape.compression or "none"
        read = (
            f"read_json(?, format='{fmt}', columns={_columns_sql(columns)}, "
            f"maximum_object_size={limit}, compression='{comp}')"
        )
        if self.keep_raw:
            # The whole record, not only the fields read: a second reader, joined by position.
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE raw_input AS "
                f"SELECT c.* EXCLUDE (rn), ? AS __file, rn AS __line, o.json AS __raw "
                f"FROM (SELECT *, row_number() OVER () AS rn FROM {read}) c "
                f"JOIN (SELECT json, row_number() OVER () AS rn FROM read_json_objects(?, "
                f"format='{fmt}', maximum_object_size={limit}, compression='{comp}')) o USING (rn)",
                [label, str(path), str(path)],
            )
        else:
            # No __raw column: the fields' JSON is built later only for the rows that need it
            # (events without an id, rejects), not stored for every row.
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE raw_input AS "
                f"SELECT *, ? AS __file, row_number() OVER () AS __line FROM {read}",
                [label, str(path)],
            )
            self._raw_sql = _fields_json(columns)

    def _slow_path(
        self, path: Path, shape: Shape, label: str, columns: list[str], rejects: list[Reject]
    ) -> None:
        """Parse record by record; good records go to raw_input, bad ones to ``rejects``."""
        self.load_objects(_records(path, shape, self.bounds), label, columns, rejects)

    def load_objects(
        self,
        records: Iterable[tuple[int, dict | None, str | None, str]],
        label: str,
        columns: list[str],
        rejects: list[Reject],
    ) -> int:
        """``(line, object, error, raw_text)`` tuples -> ``raw_input`` (through a temp NDJSON)."""
        good = 0
        tmp_path = inputs.temp_path(".ndjson")
        try:
            with open(tmp_path, "wb") as tmp:
                for line_no, obj, err, raw in records:
                    if err is not None:
                        rejects.append(Reject(line_no, err, raw))
                        continue
                    obj = dict(obj)
                    if self.keep_raw:
                        obj["__raw"] = dict(obj)
                    obj["__line"] = line_no
                    tmp.write(json.dumps(obj, ensure_ascii=False).encode("utf-8", "replace"))
                    tmp.write(b"\n")
                    good += 1
            extra = {"__line": "BIGINT", "__raw": "JSON"} if self.keep_raw else {"__line": "BIGINT"}
            raw = "__raw" if self.keep_raw else f"{_fields_json(columns)} AS __raw"
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE raw_input AS "
                f"SELECT {', '.join(ident(c) for c in columns)}, "
                f"? AS __file, __line, {raw} "
                f"FROM read_json(?, format='newline_delimited', "
                f"columns={_columns_sql(columns, extra)}, "
                f"maximum_object_size={max_record_bytes() * 2 + 1024})",
                [label, str(tmp_path)],
            )
        finally:
            tmp_path.unlink(missing_ok=True)
        return good

    # -- normalize ---------------------------------------------------------------------------------

    def _normalize(self, rejects: list[Reject]) -> None:
        """raw_input -> staged in one statement; when it fails, halves are retried to isolate the
        record that cannot be normalized. (Binding the normalizer costs more than running it on a
        small file, so the common case binds it once.)"""
        sql = self._raw_sql_of(sqlfiles.load("normalize_raw.sql"))
        self.con.execute(f"SET VARIABLE triage_keep_pii = {str(self.keep_pii).lower()}")
        raw = "triage_scrub_json(r.__raw)" if self.keep_raw else "NULL::JSON"
        join = "JOIN raw_input r ON r.__line = n.source_line" if self.keep_raw else ""
        try:
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE staged AS "
                f"SELECT n.*, {raw} AS raw FROM ({sql}) n {join}"
            )
        except (duckdb.Error, UnicodeDecodeError):
            self._normalize_bisect(sql, rejects)
        self._after_normalize()

    def _after_normalize(self) -> None:
        """What follows normalizing, on ``staged``, for EVERY path (lenient, typed and a batch of
        small files all call this, and nothing else after building ``staged``): per-row steps
        over normalized rows belong here, so that no path misses them. Then ``staged_first``:
        one row per event id, the first occurrence in the file."""
        # Transactions (performance data) are not events to triage, in any shape; then Sentry's
        # grouping over the normalized rows (queries/grouping.sql).
        self._transactions = self.con.execute(
            "DELETE FROM staged WHERE list_contains(?, event_type)", [list(SKIPPED_EVENT_TYPES)]
        ).fetchone()[0]
        grouping.apply(self.con, "staged")
        dup = self.con.execute("SELECT count(*) - count(DISTINCT event_id) FROM staged").fetchone()[
            0
        ]
        for kind in ("VIEW", "TABLE"):  # the last file's, whichever it was
            try:
                self.con.execute(f"DROP {kind} IF EXISTS staged_first")
            except duckdb.CatalogException:
                pass
        if not dup:
            # Every id once (the usual case): no sort of every row to find first occurrences.
            self.con.execute("CREATE TEMP VIEW staged_first AS SELECT * FROM staged")
            return
        self.con.execute(
            "CREATE TEMP TABLE staged_first AS SELECT * FROM staged "
            "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY source_line) = 1"
        )

    def _raw_sql_of(self, sql: str) -> str:
        """``sql`` reading the record text as this file's ``raw_input`` provides it."""
        return sql.replace("CAST(__raw AS VARCHAR)", f"CAST({self._raw_sql} AS VARCHAR)")

    def _normalize_bisect(self, sql: str, rejects: list[Reject]) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE staged AS {sql} LIMIT 0")
        self.con.execute("ALTER TABLE staged ADD COLUMN raw JSON")
        bounds = self.con.execute("SELECT min(__line), max(__line) FROM raw_input").fetchone()
        ranged = sql.replace("FROM raw_input", "FROM raw_input WHERE __line BETWEEN ? AND ?")
        todo = [(bounds[0], bounds[1])] if bounds[0] is not None else []
        raw_col = "triage_scrub_json(r.__raw)" if self.keep_raw else "NULL::JSON"
        while todo:
            lo, hi = todo.pop()
            try:
                self.con.execute(
                    f"INSERT INTO staged SELECT n.*, {raw_col} "
                    f"FROM ({ranged}) n "
                    f"JOIN raw_input r ON r.__line = n.source_line",
                    [lo, hi],
                )
            except (duckdb.Error, UnicodeDecodeError) as exc:
                if lo == hi:
                    raw = self.con.execute(
                        self._raw_sql_of(
                            "SELECT CAST(__raw AS VARCHAR) FROM raw_input WHERE __line = ?"
                        ),
                        [lo],
                    ).fetchone()
                    rejects.append(
                        Reject(
                            lo,
                            f"cannot normalize: {str(exc).splitlines()[0]}",
                            (raw[0] if raw else "")[:RAW_TEXT_LIMIT],
                        )
                    )
                else:
                    mid = (lo + hi) // 2
                    todo += [(lo, mid), (mid + 1, hi)]

    def _normalize_groups(self, rejects: list[Reject]) -> None:
        """raw_input (issue objects) -> groups_staged, one row per group (the last one wins)."""
        sql = sqlfiles.load("normalize_groups.sql")
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE groups_norm AS {sql}")
        for line, raw in self.con.execute(
            self._raw_sql_of(
                "SELECT __line, CAST(__raw AS VARCHAR) FROM raw_input WHERE __line IN "
                "(SELECT source_line FROM groups_norm WHERE id IS NULL AND short_id IS NULL) "
                "ORDER BY 1"
            )
        ).fetchall():
            rejects.append(Reject(line, "issue without `id` or `shortId`", raw[:RAW_TEXT_LIMIT]))
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE groups_staged AS SELECT * FROM groups_norm "
            "WHERE id IS NOT NULL OR short_id IS NOT NULL"
        )

    # -- write (inside the file's transaction) ---------------------------------------------------

    def _store_events(self) -> tuple[int, int, int]:
        """staged -> events: merge what known events did not know, add the new ones.

        Returns (added, duplicates, merged). A duplicate is an event id already stored or repeated
        in the file; ``merged`` counts the stored events that learned something (the web API
        knows the group id, the raw payload the full tags).
        """
        staged = self.con.execute("SELECT count(*) FROM staged").fetchone()[0]
        merged = self.con.execute(sqlfiles.load("merge_events.sql")).fetchone()[0]
        added = self.con.execute(
            f"INSERT INTO events ({EVENT_COLUMNS}, raw) "
            f"SELECT {EVENT_COLUMNS}, raw FROM staged_first s "
            f"WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = s.event_id)"
        ).fetchone()[0]
        grouping.lend_sentry_ids(self.con, "staged")
        return added, staged - added, merged

    def _store_groups(self) -> tuple[int, int]:
        """groups_staged -> groups: newer values win, known values are kept. (added, updated)."""
        self.con.execute(
            """CREATE OR REPLACE TEMP TABLE groups_merged AS
            SELECT coalesce(n.id, o.id) AS id, coalesce(n.short_id, o.short_id) AS short_id,
                coalesce(n.title, o.title) AS title, coalesce(n.culprit, o.culprit) AS culprit,
                coalesce(n.level, o.level) AS level, coalesce(n.status, o.status) AS status,
                coalesce(n.times_seen, o.times_seen) AS times_seen,
                coalesce(n.user_count, o.user_count) AS user_count,
                least(n.first_seen, o.first_seen) AS first_seen,
                greatest(n.last_seen, o.last_seen) AS last_seen,
                coalesce(n.project, o.project) AS project,
                coalesce(n.platform, o.platform) AS platform,
                coalesce(n.permalink, o.permalink) AS permalink,
                coalesce(n.metadata, o.metadata) AS metadata,
                n.source_file,
                (o.id IS NOT NULL OR o.short_id IS NOT NULL) AS known
            FROM groups_staged n
            LEFT JOIN groups o ON o.id = n.id OR o.short_id = n.short_id
            QUALIFY row_number() OVER (PARTITION BY coalesce(n.id, n.short_id)
                                       ORDER BY n.source_line DESC, o.id NULLS LAST) = 1"""
        )
        self.con.execute(
            "DELETE FROM groups o WHERE EXISTS (SELECT 1 FROM groups_merged n "
            "WHERE o.id = n.id OR o.short_id = n.short_id)"
        )
        self.con.execute(
            f"INSERT INTO groups ({GROUP_COLUMNS}) SELECT {GROUP_COLUMNS} FROM groups_merged"
        )
        added, known = self.con.execute(
            "SELECT count(*) FILTER (WHERE NOT known), count(*) FILTER (WHERE known) "
            "FROM groups_merged"
        ).fetchone()
        return added, known

    # -- one file ----------------------------------------------------------------------------------

    def ingest_file(
        self,
        path: Path | Skipped,
        *,
        force_kind: str | None = None,
        label: str | None = None,
    ) -> FileResult:
        """Ingest one file (``-`` for standard input) as one transaction.

        Never raises for what a file holds: a file that cannot be read (a FIFO with no writer, a
        decompression bomb, an unexpected failure) is one reject, and the next file goes on."""
        if isinstance(path, Skipped):
            result = FileResult(str(path.path), "skipped")
            result.notes.append(path.reason)
            return result
        label = label or ("<stdin>" if str(path) == inputs.STDIN else str(path))
        if inputs.is_stream(path):
            try:
                spooled = inputs.spool(path, self.bounds.max_bytes)
            except InputRefused as exc:
                return self._refused(label, str(exc))
            try:
                return self.ingest_file(spooled, force_kind=force_kind, label=label)
            finally:
                spooled.unlink(missing_ok=True)
        self._raw_sql = "__raw"
        try:
            reason = sniff.binary_reason(shapes.read_head(path, sniff.SNIFF_BYTES))
            if reason is not None:  # before hashing: a stray database may be large
                return FileResult(label, "skipped", skip_reason=reason)
            found = inputs.scan(path, self.bounds, label=label)
        except InputRefused as exc:
            return self._refused(label, str(exc))
        except OSError as exc:
            return self._refused(label, f"cannot read: {exc.strerror or exc}")
        digest, self._blank_lines, size = found.digest, found.blank_lines, found.size
        # A file ingested under an older grouping may be ingested again: its events regroup.
        seen = self.con.execute(
            "SELECT count(*) FROM ingest_log WHERE content_hash = ? "
            "AND coalesce(grouping_version, 1) >= ?",
            [digest, grouping.GROUPING_VERSION],
        ).fetchone()[0]
        try:
            shape = shapes.detect(path, force_kind)
        except (OSError, ValueError, RecursionError) as exc:
            return self._refused(label, f"cannot read: {exc}")
        result = FileResult(label, str(shape), kind=shape.kind)
        if seen:
            result.already_ingested = True
            return result
        try:
            return self._ingest_whole(path, shape, label, digest, size, result)
        except InputRefused as exc:
            return self._refused(label, str(exc))
        except (duckdb.Error, OSError, ValueError, RecursionError, MemoryError) as exc:
            # A failure the readers did not foresee: this file is one reject; the batch goes on.
            first = str(exc).splitlines()[0] if str(exc) else ""
            return self._refused(label, f"cannot ingest: {type(exc).__name__}: {first}")

    def _refused(self, label: str, reason: str) -> FileResult:
        """A file not read at all: one reject, stored once however often it is re-run, and no
        ``ingest_log`` row (so that it is read when the cause is gone)."""
        result = FileResult(label, "not read")
        result.errors = [f"{label}: {reason}"]
        result.rejects = result.records = 1
        known = self.con.execute(
            "SELECT count(*) FROM rejects WHERE source_file = ? AND source_line = 0 AND reason = ?",
            [label, self._scrub(reason)],
        ).fetchone()[0]
        if not known:
            self._write_rejects(label, [Reject(0, reason, "")])
        return result

    def _scrub(self, text: str) -> str:
        return text if self.keep_pii else pii.scrub_json_text(text)

    def _ingest_whole(
        self, path: Path, shape: Shape, label: str, digest: str, size: int, result: FileResult
    ) -> FileResult:
        # 1. Read and normalize, outside any transaction.
        rejects: list[Reject] = []
        events = groups = typed_done = False
        if shape.layout == "empty":
            pass
        elif self._typed_path(path, shape, label):
            events = typed_done = True
        elif shape.kind in shapes.EVENT_KINDS or shape.kind == "api-issues":
            rejects += self._load_json(
                path, shape, label, ISSUE_COLUMNS if shape.kind == "api-issues" else RAW_COLUMNS
            )
            events, groups = shape.kind != "api-issues", shape.kind == "api-issues"
            if events:
                self._skip_non_events(result, "line" if shape.layout == "ndjson" else "record")
        else:
            events, groups = formats.stage(self, path, shape, label, rejects, result)
        # Records read: rows staged for normalizing, records refused while parsing, items skipped.
        read = self._count("staged" if typed_done else "raw_input") if (events or groups) else 0
        result.records = read + len(rejects) + result.skipped
        self._transactions = 0
        if typed_done:
            self._after_normalize()
        elif events:
            self._normalize(rejects)
        elif groups:
            self._normalize_groups(rejects)
        if self._transactions:
            result.skipped += self._transactions
            result.notes.append(f"skipped {self._transactions} transaction(s): not error events")

        # 2. Write it all in one transaction.
        self.con.execute("BEGIN TRANSACTION")
        try:
            if events:
                result.added, result.duplicates, result.merged = self._store_events()
            if groups:
                g_added, g_known = self._store_groups()
                result.groups = g_added + g_known
                if not events:
                    result.unit = "groups"
                    staged = self._count("groups_staged")
                    result.added, result.duplicates = g_added, staged - g_added
            result.rejects = len(rejects)
            self._write_rejects(label, rejects)
            self.con.execute(
                "INSERT INTO ingest_log (source_file, size_bytes, content_hash, shape, records, "
                "added, duplicates, rejects, skipped, merged, kind, grouping_version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    label,
                    size,
                    digest,
                    str(shape),
                    result.records,
                    result.added,
                    result.duplicates,
                    result.rejects,
                    result.skipped,
                    result.merged,
                    shape.kind,
                    grouping.GROUPING_VERSION,
                ],
            )
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        result.errors = [f"{label}:{r.line}: {r.reason}" for r in rejects]
        return result

    def _skip_non_events(self, result: FileResult, unit: str) -> None:
        """Drop records of ``raw_input`` that carry none of an event's keys, counted as skipped
        with one note (see triage.ingest.sniff), rather than stored as empty events."""
        pred = sniff.non_event_sql(RAW_COLUMNS)
        n, first = self.con.execute(
            f"SELECT count(*), min(__line) FROM raw_input WHERE {pred}"
        ).fetchone()
        if n:
            self.con.execute(f"DELETE FROM raw_input WHERE {pred}")
            result.skipped += n
            result.notes.append(sniff.non_event_note(n, first, unit))

    def _count(self, table: str) -> int:
        try:
            return self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        except duckdb.CatalogException:
            return 0

    def _write_rejects(self, label: str, rejects: list[Reject]) -> None:
        """Rejected records with their text; emails, addresses and secrets masked in it unless
        ``keep_pii`` (the text is kept to show what was wrong, not who sent it)."""
        if rejects:
            self.con.executemany(
                "INSERT INTO rejects (source_file, source_line, reason, raw_text) "
                "VALUES (?, ?, ?, ?)",
                [[label, r.line, self._scrub(r.reason), self._scrub(r.raw_text)] for r in rejects],
            )

    # -- many small files ------------------------------------------------------------------------

    def ingest_batch(self, paths: list[Path], *, force_kind: str | None = None) -> list[FileResult]:
        """Small files, read and normalized together, stored in ONE transaction.

        Why: per file, binding the normalizer costs more than running it on one event, so a
        folder of one-event files (the JSON link's and sentry-cli's shape) took 25x the time of
        the same events in one NDJSON file. Per-file accounting is kept (each file gets its
        FileResult and ``ingest_log`` row). The batch lands whole or not at all, so a killed
        ingest still leaves whole files only. Anything off the plain path (a file DuckDB refuses,
        a record the normalizer refuses, an event id seen in another file of the batch or already
        stored, a kind that is not an event) sends the files through :meth:`ingest_file` one by
        one, which has the same results by construction.
        """
        if len(paths) <= 1:
            return [self.ingest_file(p, force_kind=force_kind) for p in paths]
        results: dict[Path, FileResult] = {}
        scanned = []
        for path in paths:
            try:
                digest, blank = _scan(path)
                scanned.append((path, digest, blank, path.stat().st_size))
            except OSError:
                scanned.append((path, None, False, 0))  # ingest_file reports it
        known = {
            h
            for (h,) in self.con.execute(
                "SELECT DISTINCT content_hash FROM ingest_log WHERE list_contains(?, content_hash) "
                "AND coalesce(grouping_version, 1) >= ?",
                [[d for _, d, _, _ in scanned if d], grouping.GROUPING_VERSION],
            ).fetchall()
        }
        # Runs of batchable files, in order; any other file is ingested alone where it stands,
        # so that files meet each other's events in the order the one-by-one path would.
        todo: list[tuple[Path, Shape, str, int]] = []
        digests: set[str] = set()
        for path, digest, blank, size in scanned:
            shape = shapes.detect(path, force_kind) if digest else None
            if digest and (digest in known or digest in digests):
                results[path] = FileResult(str(path), str(shape), kind=shape.kind)
                results[path].already_ingested = True
            elif (
                shape is not None
                and shape.kind in shapes.EVENT_KINDS
                and shape.layout in ("object", "array", "ndjson")
                and shape.compression is None
                and size <= max_record_bytes()
                and not (shape.layout == "ndjson" and blank)
            ):
                todo.append((path, shape, digest, size))
                digests.add(digest)
            else:
                self._run_batch(todo, results, force_kind)
                todo = []
                results[path] = self.ingest_file(path, force_kind=force_kind)
                if digest:
                    digests.add(digest)
        self._run_batch(todo, results, force_kind)
        return [results[p] for p in paths]

    def _run_batch(
        self,
        todo: list[tuple[Path, Shape, str, int]],
        results: dict[Path, FileResult],
        force_kind: str | None,
    ) -> None:
        """Store ``todo`` as one batch; the halves of a refused batch are tried in order, down
        to single files: one odd file costs a few statements, not the folder one by one."""
        parts = [todo] if todo else []
        while parts:
            part = parts.pop(0)
            if len(part) == 1:
                results[part[0][0]] = self.ingest_file(part[0][0], force_kind=force_kind)
                continue
            try:
                for (path, *_), fr in zip(part, self._batch(part), strict=True):
                    results[path] = fr
            except _BatchRefused:
                mid = len(part) // 2
                parts[:0] = [part[:mid], part[mid:]]

    def _batch(self, todo: list[tuple[Path, Shape, str, int]]) -> list[FileResult]:
        """Read, normalize and store ``todo`` as one; raise _BatchRefused before writing
        anything when a file needs the one-by-one path."""
        # Why read_text and not read_json over the file list: DuckDB's JSON reader costs about
        # 10 ms per file opened; read_text about 0.1 ms. Each record is then cut out of its file
        # (an NDJSON line keeps its line number, an array item its position) and its fields read
        # by json_transform with the JSON reader's own columns: the same values it would give.
        layouts = {str(path): shape.layout for path, shape, _, _ in todo}
        self._raw_sql = _fields_json(RAW_COLUMNS)
        try:
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE raw_input AS "
                "WITH batch_text AS (SELECT filename AS __file, content, l.layout "
                "FROM read_text(?) t JOIN (SELECT unnest(?::VARCHAR[]) AS f, "
                "unnest(?::VARCHAR[]) AS layout) l ON l.f = t.filename), "
                "recs AS ("
                # one object
                "SELECT __file, content::JSON AS rec, 1::BIGINT AS __line FROM batch_text "
                "WHERE layout = 'object' UNION ALL "
                # NDJSON: every non-blank line, at its line number
                "SELECT __file, trim(line, chr(13))::JSON, i FROM ("
                "SELECT __file, unnest(string_split(content, chr(10))) AS line, "
                "generate_subscripts(string_split(content, chr(10)), 1) AS i "
                "FROM batch_text WHERE layout = 'ndjson') WHERE trim(line) <> '' UNION ALL "
                # an array: every item, at its position
                "SELECT __file, unnest(items), generate_subscripts(items, 1) FROM ("
                "SELECT __file, CAST(content::JSON AS JSON[]) AS items FROM batch_text "
                "WHERE layout = 'array')) "
                # a record that is not an object is the one-by-one path's to reject
                f"SELECT unnest(json_transform(CASE WHEN json_type(rec) = 'OBJECT' THEN rec "
                f"ELSE error('not an object') END, '{_columns_json(RAW_COLUMNS)}')), "
                "__file, __line FROM recs",
                [list(layouts), list(layouts), list(layouts.values())],
            )
            sql = self._raw_sql_of(sqlfiles.load("normalize_raw.sql"))
            self.con.execute(
                "CREATE OR REPLACE TEMP TABLE staged AS "
                f"SELECT n.*, NULL::JSON AS raw FROM ({sql}) n"
            )
        except (duckdb.Error, UnicodeDecodeError) as exc:
            raise _BatchRefused(str(exc)) from exc
        # The same event in two files, or already stored: per file, the later copy merges into
        # the earlier one; the one-by-one path does exactly that. (Then the distinct event ids of
        # a file are the events it adds.) Records the shared steps drop from `staged` count as
        # skipped.
        self._after_normalize()
        rows = self.con.execute(
            "SELECT r.__file, r.n, coalesce(s.ids, 0), coalesce(s.n, 0), "
            "(SELECT count(*) FROM (SELECT event_id FROM staged GROUP BY event_id "
            "HAVING count(DISTINCT source_file) > 1)) + (SELECT count(*) FROM staged s WHERE "
            "EXISTS (SELECT 1 FROM events e WHERE e.event_id = s.event_id)) "
            "FROM (SELECT __file, count(*) AS n FROM raw_input GROUP BY ALL) r "
            "LEFT JOIN (SELECT source_file, count(*) AS n, count(DISTINCT event_id) AS ids "
            "FROM staged GROUP BY ALL) s ON s.source_file = r.__file"
        ).fetchall()
        if any(r[4] for r in rows) or self.keep_raw:
            raise _BatchRefused("event ids shared between files, or --keep-raw")
        counts = {f: (records, first, staged) for f, records, first, staged, _ in rows}
        out = []
        for path, shape, digest, size in todo:
            records, added, staged = counts.get(str(path), (0, 0, 0))
            fr = FileResult(str(path), str(shape), kind=shape.kind, records=records)
            fr.added, fr.duplicates = added, staged - added
            fr.skipped = records - staged
            out.append((fr, digest, size, shape))
        self.con.execute("BEGIN TRANSACTION")
        try:
            # The same store step as one file (no id of the batch is stored yet: nothing merges).
            self._store_events()
            # One statement for every file's row (executemany costs a statement per row).
            log = [
                [fr.path, size, digest, str(shape), fr.records, fr.added, fr.duplicates, 0]
                + [fr.skipped, 0, shape.kind, grouping.GROUPING_VERSION]
                for fr, digest, size, shape in out
            ]
            self.con.execute(
                "INSERT INTO ingest_log (source_file, size_bytes, content_hash, shape, records, "
                "added, duplicates, rejects, skipped, merged, kind, grouping_version) "
                "SELECT unnest(?::VARCHAR[]), unnest(?::BIGINT[]), unnest(?::VARCHAR[]), "
                "unnest(?::VARCHAR[]), unnest(?::BIGINT[]), unnest(?::BIGINT[]), "
                "unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::BIGINT[]), "
                "unnest(?::BIGINT[]), unnest(?::VARCHAR[]), unnest(?::INTEGER[])",
                [list(col) for col in zip(*log, strict=True)],
            )
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return [fr for fr, *_ in out]

    def ingest_records(
        self, records: Iterable[dict], *, source: str, kind: str | None = None
    ) -> FileResult:
        """Ingest already-parsed records (a page from the Sentry API, say) as one "file".

        ``source`` names the page in ``ingest_log`` and ``rejects`` (``sentry:acme/issues/1/events
        ?cursor=0:100:0``). The records go through the same path as a file: shape detection (or
        ``kind``), dedupe, merge, rejects, one transaction; the same page twice is a no-op.
        """
        tmp = inputs.temp_path(".ndjson")
        try:
            with open(tmp, "wb") as fh:
                for rec in records:
                    fh.write(json.dumps(rec, ensure_ascii=False, default=str).encode("utf-8"))
                    fh.write(b"\n")
            return self.ingest_file(tmp, force_kind=kind, label=source)
        finally:
            tmp.unlink(missing_ok=True)


def ingest_paths(
    con: duckdb.DuckDBPyConnection,
    paths: Iterable[str | os.PathLike[str]],
    *,
    keep_raw: bool = False,
    keep_pii: bool = False,
    bounds: Bounds | None = None,
    force_kind: str | None = None,
    on_file: Callable[[FileResult], None] | None = None,
) -> IngestResult:
    """Ingest files, folders, globs and ``-``; ``on_file(FileResult)`` after each file."""
    inputs.sweep_stale()  # temp folders a killed run (kill -9) left behind
    ing = Ingester(con, keep_raw=keep_raw, keep_pii=keep_pii, bounds=bounds)
    result = IngestResult()
    own = _own_files(con)
    batch: list[Path] = []

    def flush() -> None:
        for fr in ing.ingest_batch(batch, force_kind=force_kind):
            result.files.append(fr)
            if on_file:
                on_file(fr)
        batch.clear()

    for path in iter_files(paths):
        if isinstance(path, Path) and str(path) != STDIN and path.resolve() in own:
            continue  # the database itself, when its folder is ingested
        if _batchable(path):
            batch.append(path)
            if len(batch) >= BATCH_FILES:
                flush()
            continue
        flush()
        try:
            fr = ing.ingest_file(path, force_kind=force_kind)
        except Exception as exc:  # noqa: BLE001 (one odd file must not stop the files after it)
            if isinstance(exc, duckdb.FatalException) or os.environ.get("TRIAGE_DEBUG"):
                raise
            fr = _failed_file(ing, path, exc)
        result.files.append(fr)
        if on_file:
            on_file(fr)
    flush()
    return result


def _batchable(path: Path) -> bool:
    """A small regular file: read with others of its kind in one statement (see ingest_batch)."""
    if not isinstance(path, Path) or str(path) == STDIN:
        return False
    try:
        return path.is_file() and path.stat().st_size <= BATCH_FILE_BYTES
    except OSError:
        return False


def _failed_file(ing: Ingester, path: Path, exc: Exception) -> FileResult:
    """A file the ingester could not handle: one reject naming the error, and the batch goes on."""
    label = "<stdin>" if str(path) == STDIN else str(path)
    first = (str(exc).strip().splitlines() or [""])[0]
    reason = f"cannot ingest this file: {type(exc).__name__}: {first}"
    ing._write_rejects(label, [Reject(0, reason, "")])
    return FileResult(label, "failed", records=1, rejects=1, errors=[f"{label}: {reason}"])


def _own_files(con: duckdb.DuckDBPyConnection) -> set[Path]:
    """The database file and its write-ahead log."""
    out = set()
    for (file,) in con.execute(
        "SELECT path FROM duckdb_databases() WHERE path IS NOT NULL"
    ).fetchall():
        out |= {Path(file).resolve(), Path(file + ".wal").resolve()}
    return out


# -- record-by-record reading (the slow path) ----------------------------------------------------


def _records(
    path: Path, shape: Shape, bounds: Bounds | None = None
) -> Iterator[tuple[int, dict | None, str | None, str]]:
    """Yield ``(line_or_record_no, event, error, raw_text)`` for every record of a file."""
    if shape.layout == "ndjson":
        yield from _ndjson_records(path, shape.compression, bounds)
        return
    try:
        with inputs.open_bounded(path, shape.compression, bounds) as fh:
            data = fh.read()
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        yield 1, None, f"cannot read (truncated or corrupt compression?): {exc}", ""
        return
    body = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    first, _, rest = body.partition(b"\n")
    if rest.strip() and _parses(first):
        # Not one document but NDJSON whose first record happens to be an array.
        yield from _ndjson_records(path, shape.compression, bounds)
        return
    if body.startswith(b"["):
        # Element by element: one bad element is one reject, the others land.
        yield from recover.iter_array(data, max_record_bytes())
        return
    try:
        doc = recover.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        lines = [ln for ln in data.splitlines() if ln.strip()]
        if len(lines) > 1 and any(_parses(ln) for ln in lines[:50]):
            yield from _ndjson_records(path, shape.compression, bounds)
            return
        reason = "invalid UTF-8" if isinstance(exc, UnicodeDecodeError) else "malformed JSON"
        if str(exc).startswith("nested deeper"):
            reason = str(exc)
        else:
            reason = f"{reason}: {exc}"
        yield 1, None, reason, data[:RAW_TEXT_LIMIT].decode("utf-8", "replace")
        return
    limit = max_record_bytes()
    if not isinstance(doc, dict):
        yield 1, None, f"a JSON {type(doc).__name__}, not an event object", ""
    elif len(data) > limit:
        yield (
            1,
            None,
            f"record larger than {limit} bytes",
            data[:RAW_TEXT_LIMIT].decode("utf-8", "replace"),
        )
    else:
        yield 1, doc, None, ""


def _parses(line: bytes) -> bool:
    try:
        recover.loads(line)
        return True
    except ValueError:
        return False


def _ndjson_records(
    path: Path, compression: str | None, bounds: Bounds | None = None
) -> Iterator[tuple[int, dict | None, str | None, str]]:
    """Line by line; a line is read up to the record bound, the rest of an over-long line is
    skipped without holding it (a 2 GiB line of zeros costs nothing)."""
    line_no = 0
    limit = max_record_bytes()
    try:
        with inputs.open_bounded(path, compression, bounds) as fh:
            while True:
                line = fh.readline(limit + 2)
                if not line:
                    break
                line_no += 1
                if len(line) > limit and not line.endswith(b"\n"):
                    raw_text = line[:RAW_TEXT_LIMIT].decode("utf-8", "replace")
                    while line and not line.endswith(b"\n"):
                        line = fh.readline(inputs.CHUNK)
                    yield line_no, None, f"record larger than {limit} bytes", raw_text
                    continue
                stripped = line.strip()
                if not stripped:
                    continue
                raw_text = stripped[:RAW_TEXT_LIMIT].decode("utf-8", "replace")
                if len(stripped) > limit:
                    yield line_no, None, f"record larger than {limit} bytes", raw_text
                    continue
                try:
                    obj = recover.loads(stripped)
                except UnicodeDecodeError as exc:
                    yield line_no, None, f"invalid UTF-8: {exc}", raw_text
                    continue
                except ValueError as exc:
                    if str(exc).startswith("nested deeper"):
                        yield line_no, None, str(exc), raw_text
                        continue
                    cut = "" if line.endswith(b"\n") else " (the file ends inside it: truncated?)"
                    yield line_no, None, f"malformed JSON: {exc}{cut}", raw_text
                    continue
                if not isinstance(obj, dict):
                    yield (
                        line_no,
                        None,
                        f"a JSON {type(obj).__name__}, not an event object",
                        raw_text,
                    )
                    continue
                yield line_no, obj, None, raw_text
    except (EOFError, OSError, zstandard.ZstdError) as exc:
        yield line_no + 1, None, f"file ends early (truncated or corrupt compression): {exc}", ""
