"""Read Sentry exports into the ``events`` table: normalized, deduplicated, nothing lost.

Each file is read by DuckDB's own JSON reader (the fast path) and normalized by one SQL statement
(``queries/normalize_raw.sql``). When DuckDB refuses a file (a malformed line, invalid UTF-8, a
truncated gzip), the file is read again record by record in Python so that every good record still
lands and every bad one goes to ``rejects`` with its file, line and raw text. Each file is one
transaction: it lands whole or not at all.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from triage import sqlfiles

# The raw-event keys the normalizer reads. All are read as JSON so that any type is accepted.
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
]
MAX_RECORD_BYTES = 16 * 1024 * 1024
RAW_TEXT_LIMIT = 64 * 1024  # how much of a rejected record's text is kept
EVENT_COLUMNS = (
    "event_id, group_key, group_id, project, ts, level, platform, logger, message, exc_type, "
    'exc_value, exc_chain, "transaction", culprit, user_id, "release", environment, tags, '
    "fingerprint, template, source_file, source_line"
)


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
    records: int = 0
    added: int = 0
    duplicates: int = 0
    rejects: int = 0
    skipped: int = 0
    already_ingested: bool = False
    errors: list[str] = field(default_factory=list)


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


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files named, and files under folders named (recursively, sorted, hidden files skipped)."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if child.is_file() and not any(part.startswith(".") for part in rel.parts):
                    yield child
        elif path.exists():
            yield path
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")


def _open_bytes(path: Path):
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def _head(path: Path, n: int = 65536) -> bytes:
    try:
        with _open_bytes(path) as fh:
            return fh.read(n)
    except (OSError, EOFError):
        with open(path, "rb") as fh:
            return fh.read(n)


def detect_shape(path: Path) -> str:
    """`ndjson` (one event a line), `json-array`, or `json-object` (one pretty-printed event)."""
    head = _head(path).lstrip()
    if head.startswith(b"["):
        return "json-array"
    first = head.split(b"\n", 1)[0].strip()
    try:
        json.loads(first)
        return "ndjson"
    except ValueError:
        return "json-object"


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _has_blank_lines(path: Path) -> bool:
    if path.name.endswith(".gz"):
        return False  # decompressing twice to check costs more than it is worth: see _fast_path
    with open(path, "rb") as fh:
        prev = b"\n"
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            if (
                (prev[-1:] == b"\n" and chunk[:1] in (b"\n", b"\r"))
                or b"\n\n" in chunk
                or b"\n\r\n" in chunk
            ):
                return True
            prev = chunk
    return False


def _columns_sql(extra: dict[str, str] | None = None) -> str:
    cols = {c: "JSON" for c in RAW_COLUMNS}
    if extra:
        cols.update(extra)
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in cols.items()) + "}"


def _fields_json() -> str:
    """The fields read from a record, as one JSON value: hashed when an event has no id."""
    return "to_json(struct_pack(" + ", ".join(f'"{c}" := "{c}"' for c in RAW_COLUMNS) + "))"


class Ingester:
    """Ingests files into one open connection, one transaction per file."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, keep_raw: bool = False):
        self.con = con
        self.keep_raw = keep_raw

    # -- the two ways to fill raw_input --------------------------------------------------------

    def _fast_path(self, path: Path, shape: str) -> int:
        fmt = {"ndjson": "newline_delimited", "json-array": "array"}.get(shape, "unstructured")
        read = (
            f"read_json(?, format='{fmt}', columns={_columns_sql()}, "
            f"maximum_object_size={MAX_RECORD_BYTES})"
        )
        if self.keep_raw:
            # The whole record, not only the fields read: a second reader, joined by position.
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE raw_input AS "
                f"SELECT c.* EXCLUDE (rn), ? AS __file, rn AS __line, o.json AS __raw "
                f"FROM (SELECT *, row_number() OVER () AS rn FROM {read}) c "
                f"JOIN (SELECT json, row_number() OVER () AS rn FROM read_json_objects(?, "
                f"format='{fmt}', maximum_object_size={MAX_RECORD_BYTES})) o USING (rn)",
                [str(path), str(path), str(path)],
            )
        else:
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE raw_input AS "
                f"SELECT *, ? AS __file, row_number() OVER () AS __line, "
                f"{_fields_json()} AS __raw FROM {read}",
                [str(path), str(path)],
            )
        return self.con.execute("SELECT count(*) FROM raw_input").fetchone()[0]

    def _slow_path(self, path: Path, shape: str, rejects: list[Reject]) -> int:
        """Parse record by record; good records go to raw_input, bad ones to ``rejects``."""
        good = 0
        with tempfile.NamedTemporaryFile("wb", suffix=".ndjson", delete=False) as tmp:
            tmp_path = tmp.name
            for line_no, obj, err, raw in _records(path, shape):
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
        try:
            extra = {"__line": "BIGINT", "__raw": "JSON"} if self.keep_raw else {"__line": "BIGINT"}
            raw = "__raw" if self.keep_raw else f"{_fields_json()} AS __raw"
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE raw_input AS "
                f"SELECT {', '.join(f'{chr(34)}{c}{chr(34)}' for c in RAW_COLUMNS)}, "
                f"? AS __file, __line, {raw} "
                f"FROM read_json(?, format='newline_delimited', columns={_columns_sql(extra)}, "
                f"maximum_object_size={MAX_RECORD_BYTES * 2})",
                [str(path), tmp_path],
            )
        finally:
            os.unlink(tmp_path)
        return good

    # -- normalize, dedupe, insert ---------------------------------------------------------------

    def _normalize(self, rejects: list[Reject]) -> None:
        """raw_input -> staged; a failing statement is retried on halves to isolate the record."""
        sql = sqlfiles.load("normalize_raw.sql")
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE staged AS {sql} LIMIT 0")
        self.con.execute("ALTER TABLE staged ADD COLUMN raw JSON")
        bounds = self.con.execute("SELECT min(__line), max(__line) FROM raw_input").fetchone()
        if bounds[0] is None:
            return
        ranged = sql.replace("FROM raw_input", "FROM raw_input WHERE __line BETWEEN ? AND ?")
        todo = [(bounds[0], bounds[1])]
        while todo:
            lo, hi = todo.pop()
            try:
                self.con.execute(
                    f"INSERT INTO staged SELECT n.*, CASE WHEN ? THEN r.__raw END "
                    f"FROM ({ranged}) n "
                    f"JOIN raw_input r ON r.__line = n.source_line",
                    [self.keep_raw, lo, hi],
                )
            except duckdb.Error as exc:
                if lo == hi:
                    raw = self.con.execute(
                        "SELECT CAST(__raw AS VARCHAR) FROM raw_input WHERE __line = ?", [lo]
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

    def _insert(self) -> tuple[int, int]:
        """staged -> events, skipping event ids already stored or repeated in the file."""
        staged = self.con.execute("SELECT count(*) FROM staged").fetchone()[0]
        before = self.con.execute("SELECT count(*) FROM events").fetchone()[0]
        self.con.execute(
            f"INSERT INTO events ({EVENT_COLUMNS}, raw) "
            f"SELECT {EVENT_COLUMNS}, raw FROM staged s "
            f"WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = s.event_id) "
            f"QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY source_line) = 1"
        )
        after = self.con.execute("SELECT count(*) FROM events").fetchone()[0]
        added = after - before
        return added, staged - added

    # -- one file ----------------------------------------------------------------------------------

    def ingest_file(self, path: Path, *, force_shape: str | None = None) -> FileResult:
        digest = _file_hash(path)
        seen = self.con.execute(
            "SELECT count(*) FROM ingest_log WHERE content_hash = ?", [digest]
        ).fetchone()[0]
        shape = force_shape or detect_shape(path)
        result = FileResult(str(path), shape)
        if seen:
            result.already_ingested = True
            return result
        rejects: list[Reject] = []
        self.con.execute("BEGIN TRANSACTION")
        try:
            try:
                if shape == "ndjson" and _has_blank_lines(path):
                    raise duckdb.InvalidInputException("blank lines: read line by line")
                result.records = self._fast_path(path, shape)
            except duckdb.Error:
                rejects.clear()
                good = self._slow_path(path, shape, rejects)
                result.records = good + len(rejects)
            self._normalize(rejects)
            result.added, result.duplicates = self._insert()
            result.rejects = len(rejects)
            if rejects:
                self.con.executemany(
                    "INSERT INTO rejects (source_file, source_line, reason, raw_text) "
                    "VALUES (?, ?, ?, ?)",
                    [[str(path), r.line, r.reason, r.raw_text] for r in rejects],
                )
            self.con.execute(
                "INSERT INTO ingest_log (source_file, size_bytes, content_hash, shape, records, "
                "added, duplicates, rejects, skipped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    str(path),
                    path.stat().st_size,
                    digest,
                    shape,
                    result.records,
                    result.added,
                    result.duplicates,
                    result.rejects,
                    result.skipped,
                ],
            )
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        result.errors = [f"{path}:{r.line}: {r.reason}" for r in rejects]
        return result


def _records(path: Path, shape: str) -> Iterator[tuple[int, dict | None, str | None, str]]:
    """Yield ``(line_or_record_no, event, error, raw_text)`` for every record of a file."""
    if shape == "ndjson":
        yield from _ndjson_records(path)
        return
    try:
        with _open_bytes(path) as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        yield 1, None, f"cannot read: {exc}", ""
        return
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        yield 1, None, f"malformed JSON: {exc}", data[:RAW_TEXT_LIMIT].decode("utf-8", "replace")
        return
    items = doc if isinstance(doc, list) else [doc]
    for i, item in enumerate(items, start=1):
        if isinstance(item, dict):
            yield i, item, None, ""
        else:
            yield (
                i,
                None,
                f"record {i} is a JSON {type(item).__name__}, not an object",
                json.dumps(item)[:RAW_TEXT_LIMIT],
            )


def _ndjson_records(path: Path) -> Iterator[tuple[int, dict | None, str | None, str]]:
    line_no = 0
    try:
        with _open_bytes(path) as fh:
            for line_no, line in enumerate(fh, start=1):  # noqa: B007 (used after the loop)
                stripped = line.strip()
                if not stripped:
                    continue
                raw_text = stripped[:RAW_TEXT_LIMIT].decode("utf-8", "replace")
                if len(stripped) > MAX_RECORD_BYTES:
                    yield line_no, None, f"record larger than {MAX_RECORD_BYTES} bytes", raw_text
                    continue
                try:
                    obj = json.loads(stripped)
                except UnicodeDecodeError as exc:
                    yield line_no, None, f"invalid UTF-8: {exc}", raw_text
                    continue
                except ValueError as exc:
                    yield line_no, None, f"malformed JSON: {exc}", raw_text
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
    except (EOFError, OSError, gzip.BadGzipFile) as exc:
        yield line_no + 1, None, f"file ends early (truncated or corrupt compression): {exc}", ""
